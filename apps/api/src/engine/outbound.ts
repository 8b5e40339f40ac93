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

/** A dns.lookup that refuses private, loopback and link-local results unless allowed. */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, "", 0);
      const list = addresses as LookupAddress[];
      const refused = !allowPrivate && list.find((a) => isPrivateAddress(a.address));
      if (refused) {
        const err = Object.assign(
          new Error(`refused: ${hostname} resolves to private address ${refused.address}`),
          {
            code: "EPRIVATETARGET",
          },
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

/** Throws when the URL's scheme is not allowed or its host is a private IP literal (no lookup happens then). */
export function assertTarget(url: URL, schemes: string[], allowPrivate: boolean) {
  if (!schemes.includes(url.protocol))
    throw new OutboundError(`scheme ${url.protocol} is not allowed`, false);
  if (!allowPrivate && isPrivateUrlHost(url.href)) {
    throw new OutboundError(`refused: ${url.host} is a private, loopback or link-local address`, false);
  }
}

export interface OutboundResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

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
    const req = transport.request(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
        "user-agent": "Mimic/0.1 (+https://github.com/mimic)",
        ...headers,
      },
      lookup: guardedLookup(policy.allowPrivateTargets),
      timeout: policy.connectTimeoutMs,
    });
    const total = setTimeout(
      () => req.destroy(new OutboundError(`no answer within ${policy.timeoutMs} ms`, true)),
      policy.timeoutMs,
    );
    req.on("timeout", () =>
      req.destroy(new OutboundError(`no connection within ${policy.connectTimeoutMs} ms`, true)),
    );
    req.on("error", (error) => {
      clearTimeout(total);
      if (error instanceof OutboundError) return reject(error);
      const code = (error as { code?: string }).code;
      reject(
        new OutboundError(
          code === "EPRIVATETARGET" ? error.message : `${code ?? "network error"}: ${error.message}`,
          code !== "EPRIVATETARGET",
        ),
      );
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > policy.maxResponseBytes) {
          req.destroy(new OutboundError(`response larger than ${policy.maxResponseBytes} bytes`, false));
          return;
        }
        chunks.push(chunk);
      });
      res.on("end", () => {
        clearTimeout(total);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
      });
      res.on("error", (error) => {
        clearTimeout(total);
        reject(new OutboundError(error.message, true));
      });
    });
    req.end(body);
  });
}

/** Jittered exponential backoff: 250 ms, 500 ms, 1 s … capped, ±50 %. */
export function backoffMs(attempt: number, baseMs = 250, capMs = 5000): number {
  const exp = Math.min(capMs, baseMs * 2 ** attempt);
  return Math.round(exp / 2 + Math.random() * (exp / 2));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
