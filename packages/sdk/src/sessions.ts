// client.sessions: the generated methods (create, get, list, stop, messages …) plus live events, written by
// hand: subscribe() with a callback, and events() for `for await`.
import { SessionsResource as GeneratedSessionsResource } from "./generated/resources.js";
import {
  LiveConnection,
  type SessionDataEvent,
  type SessionEvent,
  type SessionEventsOptions,
  type SubscribeOptions,
} from "./live.js";

/** Runs a user callback; what it throws surfaces as an uncaught error, as from an event listener. */
function invoke<A>(fn: ((arg: A) => void) | undefined, arg: A): void {
  if (!fn) return;
  try {
    fn(arg);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

function checkSessionId(sessionId: unknown): asserts sessionId is string {
  if (typeof sessionId !== "string" || sessionId === "")
    throw new TypeError(`sessionId must be a non-empty string, got ${JSON.stringify(sessionId)}`);
}

/**
 * Sessions: a persona talking to an agent. `client.sessions`.
 *
 * Live events travel over one WebSocket per client (`GET /api/ws`), opened by the first subscription and
 * closed with the last one.
 */
export class SessionsResource extends GeneratedSessionsResource {
  #live: LiveConnection | undefined;

  /**
   * Calls `callback` with the session's live events: `session_update` (status, message count; one right away),
   * `new_message` (each message once, in order), then one `session_end`, after which the subscription ends
   * by itself. An `error` event (with `options.onError`) means the subscription failed and is over.
   *
   * Returns the function that unsubscribes: once it returns, the callback is not called again.
   *
   * ```ts
   * const unsubscribe = client.sessions.subscribe(session.id, (update) => {
   *   console.log("Session update:", update);
   * });
   * ```
   *
   * The connection is shared by all subscriptions of this client, re-established with backoff after a drop. The
   * server numbers each session's events (`seq` on the wire); the subscription remembers the last one and
   * resubscribes after it, so the messages sent while the connection was down are delivered, in order, before the
   * new ones, and none twice.
   */
  subscribe(
    sessionId: string,
    callback: (event: SessionEvent) => void,
    options: SubscribeOptions = {},
  ): () => void {
    checkSessionId(sessionId);
    if (typeof callback !== "function") throw new TypeError("callback must be a function");
    const { signal, onError, onEnd } = options;
    if (signal?.aborted) return () => {};
    let unsubscribe = () => {};
    const onAbort = () => unsubscribe();
    unsubscribe = this.#connection().subscribe(sessionId, options.replay ?? false, {
      event: (event) => invoke(callback, event),
      error: (error) => invoke(onError, error),
      end: (event) => invoke(onEnd, event),
      closed: () => signal?.removeEventListener("abort", onAbort),
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    return unsubscribe;
  }

  /**
   * The session's live events as an async iterator, which returns after `session_end`:
   *
   * ```ts
   * for await (const event of client.sessions.events(session.id, { replay: true })) {
   *   if (event.type === "new_message") console.log(`${event.data.senderType}: ${event.data.content}`);
   * }
   * ```
   *
   * The subscription starts with the first `next()` and ends when the loop does (`break`, `return`, throw).
   * It throws the MimicError that ends a subscription (NotFoundError for a session that is not yours …), and
   * the signal's reason when `options.signal` aborts.
   */
  events(sessionId: string, options: SessionEventsOptions = {}): AsyncIterableIterator<SessionDataEvent> {
    checkSessionId(sessionId);
    const { signal } = options;
    const queue: SessionDataEvent[] = [];
    const waiting: (() => void)[] = [];
    let failure: { error: unknown } | undefined;
    let started = false;
    let finished = false;
    let unsubscribe: (() => void) | undefined;

    const wake = () => {
      for (const resolve of waiting.splice(0)) resolve();
    };
    const finish = () => {
      finished = true;
      unsubscribe?.();
      signal?.removeEventListener("abort", onAbort);
      wake();
    };
    const onAbort = () => {
      if (finished) return;
      failure = { error: signal?.reason };
      queue.length = 0;
      finish();
    };
    const start = () => {
      started = true;
      if (signal?.aborted) {
        failure = { error: signal.reason };
        finished = true;
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      unsubscribe = this.#connection().subscribe(sessionId, options.replay ?? false, {
        event: (event) => {
          if (event.type === "error" || finished) return;
          queue.push(event);
          wake();
        },
        error: (error, fatal) => {
          if (!fatal || finished) return;
          failure = { error };
          finish();
        },
        // The session_end event is queued already.
        end: () => finish(),
        closed: () => {},
      });
    };

    const iterator: AsyncIterableIterator<SessionDataEvent> = {
      async next(): Promise<IteratorResult<SessionDataEvent>> {
        if (!started) start();
        for (;;) {
          const event = queue.shift();
          if (event) return { value: event, done: false };
          if (failure) {
            const { error } = failure;
            failure = undefined;
            throw error;
          }
          if (finished) return { value: undefined, done: true };
          await new Promise<void>((resolve) => waiting.push(resolve));
        }
      },
      async return(): Promise<IteratorResult<SessionDataEvent>> {
        started = true;
        queue.length = 0;
        failure = undefined;
        if (!finished) finish();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /**
   * Ends every live subscription of this client at once (no more callbacks) and closes its WebSocket. The
   * client stays usable; a later `subscribe` connects again.
   */
  unsubscribeAll(): void {
    this.#live?.close();
  }

  #connection(): LiveConnection {
    this.#live ??= new LiveConnection({
      baseUrl: this.transport.baseUrl,
      token: () => this.transport.token(),
      webSocket: this.transport.webSocket,
      fetchSession: (id) => this.get(id),
      checkAuth: () => this.transport.call({ maxRetries: 0 }, (api, init) => api.GET("/api/auth/me", init)),
    });
    return this.#live;
  }
}
