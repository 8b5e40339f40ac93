// The HTTP layer every resource shares. openapi-fetch builds URLs and bodies from the typed `paths`; this
// file adds what it leaves out: the bearer token, per-attempt timeouts, retries of idempotent requests and
// typed errors instead of `{data, error}` results. Only fetch, AbortController, Headers and Response are
// used, so it runs unchanged in Node ≥ 20 and in browsers.
import createClient, { type Client, defaultPathSerializer } from "openapi-fetch";
import { ConnectionError, errorFromResponse, TimeoutError } from "./errors.js";
import type { paths } from "./generated/schema.js";
import { backoffMs, isRetryableStatus, RETRY_MAX_SERVER_DELAY_MS, serverDelayMs, sleep } from "./retry.js";

/** A JWT from `auth.login`, an API key (`mk_…`), or a function returning one (called before every request). */
export type TokenSource = string | (() => string | null | undefined | Promise<string | null | undefined>);

/** The subset of `fetch` the SDK calls; `globalThis.fetch` and most wrappers of it fit. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** Where the API listens, without `/api`: `http://localhost:4000`. In a browser, `""` means this page's origin. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>`. Change it later with `client.setToken()`. */
  token?: TokenSource | undefined;
  /** Replaces `globalThis.fetch` (a proxy agent, instrumentation, a test double). */
  fetch?: FetchLike | undefined;
  /** Retries of a failed GET or HEAD (408, 429, 5xx, network error, timeout). Default 2. */
  maxRetries?: number | undefined;
  /** Per attempt, until the whole response body has arrived. Default 30 000 ms. */
  timeoutMs?: number | undefined;
  /** Headers sent with every request. */
  headers?: Record<string, string> | undefined;
  /**
   * The WebSocket class for live events (`sessions.subscribe`), for environments that have none or to
   * instrument it. It is used like the browser's: the token travels as `?token=` in the URL. By default the
   * SDK takes `globalThis.WebSocket`, or in Node 20 (which has none) the `ws` package, sending the token in
   * the `Authorization` header.
   */
  webSocket?: WebSocketConstructor | undefined;
}

/** A listener the WebSocket calls; declared as a method so that the DOM's and `ws`'s event types both fit. */
type Listener<E> = { bivarianceHack(event: E): void }["bivarianceHack"];

/** The part of the standard WebSocket API the SDK uses (browsers' WebSocket and `ws` both provide it). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: Listener<unknown> | null;
  onmessage: Listener<{ data: unknown }> | null;
  onclose: Listener<{ code: number; reason: string }> | null;
  onerror: Listener<unknown> | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket class: `new (url, protocols?)`, like the browser's. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Per-call settings, the last argument of every SDK method. */
export interface RequestOptions {
  /** Cancels the request, including a pending retry wait; the call then rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Extra headers for this call; an `Authorization` header here replaces the client's token. */
  headers?: Record<string, string> | undefined;
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number | undefined;
  /** Overrides the client's `maxRetries` for this call (only GET and HEAD are ever retried). */
  maxRetries?: number | undefined;
}

/**
 * What a generated method passes to openapi-fetch for one call, alone or spread into its options.
 * A type literal rather than an interface: openapi-fetch's options type has an index signature.
 */
export type CallInit = {
  headers?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
  fetch: (request: Request) => Promise<Response>;
};

/** The part of openapi-fetch's result `call` reads. */
export interface CallResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

const DEFAULT_MAX_RETRIES = 2;
const DEFAULT_TIMEOUT_MS = 30_000;
/** Statuses whose responses have no body; `new Response(body, …)` refuses one for them. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

function checkRetries(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 0)
    throw new TypeError(`${name} must be an integer ≥ 0, got ${value}`);
  return value;
}

function checkTimeout(value: number, name: string): number {
  // setTimeout fires at once for delays it cannot represent (above 2^31 - 1 ms).
  if (!(value > 0 && value <= 2_147_483_647)) throw new TypeError(`${name} must be between 1 and 2^31-1 ms`);
  return value;
}

/** Like openapi-fetch's serializer, but an id of `""`, `"."` or `".."` would silently address another route. */
function checkedPathSerializer(pathname: string, params: Record<string, unknown>): string {
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "" || value === "." || value === "..")
      throw new TypeError(`path parameter ${name} must be a non-empty id, got ${JSON.stringify(value)}`);
  }
  const path = defaultPathSerializer(pathname, params);
  const missing = /\{([^}]+)\}/.exec(path);
  if (missing) throw new TypeError(`path parameter ${missing[1]} is missing`);
  return path;
}

function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  // Node's fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND …) is on its cause.
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined;
  const detail =
    typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : "";
  return detail && !error.message.includes(detail) ? `${error.message} (${detail})` : error.message;
}

export class Transport {
  /** The openapi-fetch client underneath, typed by `paths`: token, retries and timeouts included. */
  readonly api: Client<paths>;
  readonly baseUrl: string;
  #token: TokenSource | undefined;
  readonly #fetch: FetchLike;
  readonly #maxRetries: number;
  readonly #timeoutMs: number;
  /** The `webSocket` option, if given. */
  readonly webSocket: WebSocketConstructor | undefined;

  constructor(options: ClientOptions) {
    if (typeof options?.baseUrl !== "string")
      throw new TypeError('baseUrl is required, e.g. new MimicClient({ baseUrl: "http://localhost:4000" })');
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#token = options.token;
    const custom = options.fetch;
    // Looked up at call time, not bound now: a fetch installed or replaced later (polyfill, test) is used.
    this.#fetch = custom ?? ((input, init) => globalThis.fetch(input, init));
    this.#maxRetries = checkRetries(options.maxRetries ?? DEFAULT_MAX_RETRIES, "maxRetries");
    this.#timeoutMs = checkTimeout(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, "timeoutMs");
    this.webSocket = options.webSocket;
    this.api = createClient<paths>({
      baseUrl: this.baseUrl,
      headers: options.headers,
      pathSerializer: checkedPathSerializer,
      fetch: (request) => this.#send(request, this.#maxRetries, this.#timeoutMs),
    });
    this.api.use({
      onRequest: async ({ request }) => {
        if (request.headers.has("authorization")) return undefined;
        const token = await this.token();
        if (token) request.headers.set("authorization", `Bearer ${token}`);
        return undefined;
      },
    });
  }

  /** The token to send now: the string given, or what the token function returns (awaited). */
  async token(): Promise<string | undefined> {
    const token = typeof this.#token === "function" ? await this.#token() : this.#token;
    return token || undefined;
  }

  /** Replaces the token for the requests that follow (`undefined` sends none). */
  setToken(token: TokenSource | undefined): void {
    this.#token = token;
  }

  /**
   * Runs one API call: `send` issues it through openapi-fetch with `init` spread into its options; a 2xx
   * resolves to the parsed body, anything else rejects with the MimicError subclass for its status.
   */
  async call<T>(
    options: RequestOptions | undefined,
    send: (api: Client<paths>, init: CallInit) => Promise<CallResult<T>>,
  ): Promise<T> {
    const maxRetries = checkRetries(options?.maxRetries ?? this.#maxRetries, "maxRetries");
    const timeoutMs = checkTimeout(options?.timeoutMs ?? this.#timeoutMs, "timeoutMs");
    const { data, error, response } = await send(this.api, {
      headers: options?.headers,
      signal: options?.signal,
      fetch: (request) => this.#send(request, maxRetries, timeoutMs),
    });
    if (!response.ok) throw errorFromResponse(response, error);
    // openapi-fetch leaves `data` undefined for a bodiless answer (204), which is what a `void` method promises.
    return data as T;
  }

  /** Sends a request, retrying it when that is safe: a POST may have taken effect before it failed. */
  async #send(request: Request, maxRetries: number, timeoutMs: number): Promise<Response> {
    const idempotent = request.method === "GET" || request.method === "HEAD";
    // A Request's body can be read once, and an attempt needs its own copy of it.
    const body = request.body === null ? undefined : await request.arrayBuffer();
    for (let attempt = 0; ; attempt++) {
      const mayRetry = idempotent && attempt < maxRetries;
      let response: Response;
      try {
        response = await this.#attempt(request, body, timeoutMs);
      } catch (error) {
        if (!mayRetry || request.signal.aborted) throw error;
        await sleep(backoffMs(attempt), request.signal);
        continue;
      }
      if (mayRetry && isRetryableStatus(response.status)) {
        const asked = serverDelayMs(response.headers, response.status);
        // A server that asks for a long wait (the rest of an hourly window) gets its error back at once.
        if (asked === undefined || asked <= RETRY_MAX_SERVER_DELAY_MS) {
          await sleep(asked ?? backoffMs(attempt), request.signal);
          continue;
        }
      }
      return response;
    }
  }

  /** One attempt, bounded by `timeoutMs` from sending until the last byte of the body. */
  async #attempt(request: Request, body: ArrayBuffer | undefined, timeoutMs: number): Promise<Response> {
    const controller = new AbortController();
    const cancel = () => controller.abort(request.signal.reason);
    if (request.signal.aborted) cancel();
    else request.signal.addEventListener("abort", cancel, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      const response = await this.#fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body,
        redirect: request.redirect,
        signal: controller.signal,
      });
      // Read here so the timeout covers a stalled body too, and a response we retry past is drained.
      const payload =
        NULL_BODY_STATUSES.has(response.status) || request.method === "HEAD"
          ? null
          : await response.arrayBuffer();
      return new Response(payload, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    } catch (error) {
      if (request.signal.aborted) throw request.signal.reason;
      const target = `${request.method} ${request.url}`;
      if (timedOut) throw new TimeoutError(`${target} timed out after ${timeoutMs} ms`, { cause: error });
      throw new ConnectionError(`${target} failed: ${describeCause(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener("abort", cancel);
    }
  }
}
