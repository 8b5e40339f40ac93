// Every call Mimic makes to an agent goes through here: scheme allow-list, the resolved address checked at
// connect time (not only when the agent was saved), no redirects, connect and total timeouts, a size cap.
import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { isPrivateAddress, isPrivateUrlHost } from "../lib/outbound.js";

export class OutboundError extends Error {
  constructor(
    message: string,
    /** Worth another attempt (network trouble, 5xx, 429) rather than a bot bug (4xx, bad reply). */
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = "OutboundError";
  }
}

export interface OutboundPolicy {
  allowPrivateTargets: boolean;
  connectTimeoutMs: number;
  timeoutMs: number;
  maxResponseBytes: number;
}

/**
 * A dns.lookup that refuses names resolving to anything but public unicast addresses unless allowed. The reason
 * names the host as the user wrote it, never the address it resolved to (that would map the private network).
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, "", 0);
      const list = addresses as LookupAddress[];
      // One private address among several is enough: the connection may pick any of them.
      if (!allowPrivate && list.some((a) => isPrivateAddress(a.address))) {
        const err = Object.assign(
          new Error(`refused: ${hostname} resolves to a private or reserved address`),
          { code: "EPRIVATETARGET" },
        );
        return callback(err, "", 0);
      }
      if ((options as { all?: boolean }).all)
        return (callback as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0];
      if (!first)
        return callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "", 0);
      callback(null, first.address, first.family);
    });
  };
}

/**
 * Throws when the URL's scheme is not allowed or its host is a private IP literal or localhost name. Called right
 * before connecting: an IP literal is never looked up, so this is its connect-time check.
 */
export function assertTarget(url: URL, schemes: string[], allowPrivate: boolean) {
  if (!schemes.includes(url.protocol))
    throw new OutboundError(`scheme ${url.protocol} is not allowed`, false);
  if (!allowPrivate && isPrivateUrlHost(url.href)) {
    throw new OutboundError(`refused: ${url.host} is a private or reserved address`, false);
  }
}

export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** "20 s", "1.5 s", "800 ms": durations in reasons people read. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by the agent",
  ECONNABORTED: "connection aborted",
  ETIMEDOUT: "connection timed out",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  EHOSTDOWN: "host is down",
  ENETUNREACH: "network unreachable",
  ENETDOWN: "network is down",
  EADDRNOTAVAIL: "address not available",
  EPIPE: "connection closed by the agent",
};

/** IPv4 and IPv6 addresses (with a port) in system messages: a reason never tells which address a name resolved to. */
const ADDRESS_RE =
  /\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b|\[?(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:\d{1,3}(?:\.\d{1,3}){3})?\]?(?::\d{1,5})?/gi;

/** An honest reason for a socket error: what happened, in words, with the system code for searching. */
export function networkReason(error: Error): string {
  const code = (error as { code?: string }).code;
  if (code === "EPRIVATETARGET") return error.message;
  const words = code ? NETWORK_REASONS[code] : undefined;
  if (words) return `${words} (${code})`;
  const message = error.message.replace(ADDRESS_RE, "<address>");
  return code ? `${code}: ${message}` : `network error: ${message}`;
}

/**
 * POSTs JSON and reads the answer. `connectTimeoutMs` bounds reaching the agent (DNS, TCP, TLS); `timeoutMs`
 * bounds the whole attempt — connect, send, wait and read — so a bot that thinks for 20 s gets 20 s when it is
 * allowed 20 s, and a bot that dribbles bytes cannot hold the attempt past it.
 */
export function postJson(
  target: string,
  body: string,
  headers: Record<string, string>,
  policy: OutboundPolicy,
): Promise<OutboundResponse> {
  const url = new URL(target);
  assertTarget(url, ["http:", "https:"], policy.allowPrivateTargets);
  const transport = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const settle = (error: Error | undefined, response?: OutboundResponse) => {
      if (settled) return;
      settled = true;
      for (const timer of timers) clearTimeout(timer);
      if (error) reject(error);
      else resolve(response!);
    };
    const req = transport.request(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        "user-agent": "Mimic/0.1 (+https://github.com/mimic)",
        ...headers,
      },
      lookup: guardedLookup(policy.allowPrivateTargets),
    });
    const fail = (error: OutboundError) => {
      settle(error);
      req.destroy();
    };
    timers.push(
      setTimeout(
        () => fail(new OutboundError(`no reply within ${formatDuration(policy.timeoutMs)}`, true)),
        policy.timeoutMs,
      ),
    );
    if (policy.connectTimeoutMs < policy.timeoutMs) {
      const connecting = setTimeout(
        () =>
          fail(new OutboundError(`no connection within ${formatDuration(policy.connectTimeoutMs)}`, true)),
        policy.connectTimeoutMs,
      );
      timers.push(connecting);
      req.on("socket", (socket) => {
        // A kept-alive socket is connected already; a new one reports `connect` (or `secureConnect`).
        if (!socket.connecting) clearTimeout(connecting);
        else
          socket.once(url.protocol === "https:" ? "secureConnect" : "connect", () =>
            clearTimeout(connecting),
          );
      });
    }
    req.on("error", (error) => {
      if (error instanceof OutboundError) return settle(error);
      const code = (error as { code?: string }).code;
      settle(new OutboundError(networkReason(error), code !== "EPRIVATETARGET"));
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > policy.maxResponseBytes) {
          fail(new OutboundError(`response larger than ${policy.maxResponseBytes} bytes`, false));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () =>
        settle(undefined, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", (error) => settle(new OutboundError(networkReason(error), true)));
    });
    req.end(body);
  });
}

/** Jittered exponential backoff: 250 ms, 500 ms, 1 s … capped, ±50 %. */
export function backoffMs(attempt: number, baseMs = 250, capMs = 5000): number {
  const exp = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}
