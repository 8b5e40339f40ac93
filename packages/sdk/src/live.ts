// Live session events (GET /api/ws): one WebSocket per client, shared by every subscription, opened on the first
// subscribe and closed when the last one goes away. Every event carries its session's `seq`; after an unexpected
// close the connection reconnects with capped, jittered exponential backoff and subscribes again with the last seq
// it had (`afterSeq`), so the server sends what the gap hid, and events already delivered are dropped by seq. A
// subscription's first catch-up reads the session over HTTP. Written against the standard WebSocket API, so the
// same code runs in browsers and, through the `ws` package (loaded only when there is no WebSocket class to use),
// in Node 20.
import { AuthenticationError, MimicError, NotFoundError, RateLimitError, ValidationError } from "./errors.js";
import type {
  LiveErrorEvent,
  LiveEvent,
  Message,
  NewMessageEvent,
  SessionDetail,
  SessionEndEvent,
  SessionUpdateEvent,
} from "./generated/types.js";
import type { WebSocketConstructor, WebSocketLike } from "./transport.js";

/** What a subscription's callback receives: the session's events, and the error that ended the subscription. */
export type SessionEvent = SessionUpdateEvent | NewMessageEvent | SessionEndEvent | LiveErrorEvent;

/** A session's own events, without errors: what `sessions.events()` yields. */
export type SessionDataEvent = SessionUpdateEvent | NewMessageEvent | SessionEndEvent;

export interface SessionEventsOptions {
  /** Ends the subscription (and rejects a pending `next()` of `events()` with the signal's reason). */
  signal?: AbortSignal | undefined;
  /**
   * Deliver the messages the session already has first, as `new_message` events, then the live ones, without
   * duplicates. Default false: only messages sent after the subscription took effect.
   */
  replay?: boolean | undefined;
}

export interface SubscribeOptions extends SessionEventsOptions {
  /**
   * Called with a MimicError when something goes wrong for this subscription. When it is one the subscription
   * cannot survive, the callback has just received it as an `error` event and nothing more will come:
   * `NotFoundError` (`RESOURCE_NOT_FOUND`: no such session, or another user's), `AuthenticationError` (the
   * token was refused; no reconnection), `RateLimitError` (`RATE_LIMIT_EXCEEDED`: too many connections for the
   * user, or too many subscriptions on the connection), `ValidationError` (not a session id). Otherwise the
   * subscription goes on: the token function threw before a reconnection, or the messages sent while
   * disconnected could not be fetched (some may be missing).
   */
  onError?: ((error: MimicError) => void) | undefined;
  /** Called after the callback received `session_end`; the subscription is then over. */
  onEnd?: ((event: SessionEndEvent) => void) | undefined;
}

/** How a subscription's owner hears of it. Internal: `subscribe` and `events` adapt it to their public shape. */
export interface SubscriptionHandlers {
  event(event: SessionEvent): void;
  error(error: MimicError, fatal: boolean): void;
  end(event: SessionEndEvent): void;
  /** The subscription is over, whatever the reason: unsubscribed, session ended, or failed. */
  closed(): void;
}

/** What the live connection needs from the client. */
export interface LiveContext {
  /** The API's origin, as the client has it (`http://localhost:4000`, or `""` for this page's origin). */
  baseUrl: string;
  token(): Promise<string | undefined>;
  webSocket: WebSocketConstructor | undefined;
  /** GET /api/sessions/{id}: the catch-up after a (re)subscription. */
  fetchSession(id: string): Promise<SessionDetail>;
  /** GET /api/auth/me: asked when a connection fails before opening, to tell a refused token from an outage. */
  checkAuth(): Promise<unknown>;
}

const RECONNECT_BASE_MS = 250;
const RECONNECT_MAX_MS = 10_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const OPEN = 1;
/** The server closes with it when the user holds too many connections: reconnecting would not help. */
const CLOSE_POLICY_VIOLATION = 1008;
const CLOSE_NORMAL = 1000;
const FINAL_STATUSES = new Set(["completed", "failed", "stopped"]);

/** Delay before reconnection attempt `attempt + 1`: 250 ms doubling up to 10 s, the upper half jittered. */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(RECONNECT_MAX_MS, RECONNECT_BASE_MS * 2 ** attempt);
  return Math.round(cap / 2 + (cap / 2) * random());
}

/** `ws://` or `wss://` + the API's origin (and path prefix, if any) + `/api/ws`. */
export function liveUrl(baseUrl: string): string {
  // A relative baseUrl ("" in a browser) is this page's origin, as it is for fetch.
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  let url: URL;
  try {
    url = new URL(`${baseUrl}/api/ws`, page);
  } catch {
    throw new TypeError(
      `Cannot open live events at ${JSON.stringify(baseUrl)}: outside a browser, baseUrl must be absolute`,
    );
  }
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  else if (url.protocol !== "ws:" && url.protocol !== "wss:")
    throw new TypeError(`Cannot open live events over ${url.protocol} (baseUrl ${JSON.stringify(baseUrl)})`);
  url.hash = "";
  return url.toString();
}

/** The SDK error for an `error` event, after the HTTP status its code stands for. */
export function errorFromEvent(event: LiveErrorEvent): MimicError {
  const { code, message } = event.error;
  const init = (status: number) => ({ status, code, body: event });
  switch (code) {
    case "RESOURCE_NOT_FOUND":
      return new NotFoundError(message, init(404));
    case "VALIDATION_ERROR":
      return new ValidationError(message, init(422));
    case "RATE_LIMIT_EXCEEDED":
      return new RateLimitError(message, init(429));
    case "AUTHENTICATION_ERROR":
      return new AuthenticationError(message, init(401));
    default:
      return new MimicError(message, { code, body: event });
  }
}

/** The event's seq, when the server numbered it (events the SDK rebuilds from a session it read have none). */
function seqOf(event: SessionDataEvent): number | undefined {
  const seq = (event as { seq?: unknown }).seq;
  return typeof seq === "number" ? seq : undefined;
}

function withoutSeq(event: SessionDataEvent): SessionDataEvent {
  if (!("seq" in event)) return event;
  const { seq: _, ...rest } = event as SessionDataEvent & { seq?: number };
  return rest as SessionDataEvent;
}

function asMimicError(error: unknown, message: string): MimicError {
  if (error instanceof MimicError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new MimicError(`${message}: ${detail}`, { cause: error });
}

function newMessageEvent(message: Message): NewMessageEvent {
  const { id, senderType, content, timestamp, latencyMs } = message;
  return {
    type: "new_message",
    sessionId: message.sessionId,
    data: { id, senderType, content, timestamp, latencyMs },
  };
}

function messageCountOf(session: SessionDetail): number {
  const counted = session.metadata.messageCount;
  return typeof counted === "number"
    ? counted
    : session.messages.filter((m) => m.senderType !== "system").length;
}

/**
 * An event this subscription has had already, by its seq. Not a session_end: a resubscription's catch-up sends the
 * session's state and then its end with the same seq (both stand for the session as it is), and one session_end is
 * delivered at most once anyway (`ended`).
 */
function isRepeat(subscription: Subscription, event: SessionDataEvent, seq: number): boolean {
  if (event.type === "session_end") return false;
  return subscription.seq !== undefined && seq <= subscription.seq;
}

/** The server's snapshot, rebuilt from the session (for a subscription joining one the socket already has). */
function snapshotEvent(session: SessionDetail): SessionUpdateEvent {
  return {
    type: "session_update",
    sessionId: session.id,
    data: {
      status: session.status,
      messageCount: messageCountOf(session),
      lastMessage: session.messages.at(-1)?.timestamp ?? null,
    },
  };
}

/**
 * Whether the session is over and its session_end already sent. A completed or failed session is announced
 * once its checks have run: until then its `result` (the verdict) is null and session_end is still to come.
 * Stopped sessions get no verdict. (A server without verdicts sends no `result` at all.)
 */
function hasEnded(session: SessionDetail): boolean {
  if (!FINAL_STATUSES.has(session.status)) return false;
  return session.status === "stopped" || session.result !== null;
}

/** The session_end a subscriber missed (the session had ended before, or while it was disconnected). */
function endEvent(session: SessionDetail): SessionEndEvent {
  const started = Date.parse(session.startedAt ?? session.createdAt);
  const ended = Date.parse(session.endedAt ?? session.updatedAt);
  const { result } = session;
  return {
    type: "session_end",
    sessionId: session.id,
    data: {
      reason: session.reason ?? session.status,
      endReason: session.endReason,
      status: session.status,
      duration: Math.max(0, Math.round((ended - started) / 1000)),
      messageCount: messageCountOf(session),
      ...(result ? { result } : {}),
    },
  };
}

class Subscription {
  /**
   * pending: waiting for the server's `subscribed`; syncing: reading the session to catch up; live: events go
   * straight to the owner. Until live, events wait in `buffer`.
   */
  state: "pending" | "syncing" | "live" | "closed" = "pending";
  /** A catch-up has succeeded: `known` holds every message that existed, so later gaps can be filled. */
  synced = false;
  /** Joined a session the socket was already subscribed to: the server sends it no snapshot. */
  joined = false;
  /** The seq of the latest event handed over or waiting in `buffer`: a resubscription asks for what follows. */
  seq: number | undefined;
  /** Resubscribed with `afterSeq`: the server sends what was missed, no HTTP catch-up needed. */
  resuming = false;
  /** Bumped by every catch-up, so that a stale one (the socket closed meanwhile) is ignored. */
  sync = 0;
  ended = false;
  buffer: SessionDataEvent[] = [];
  /** Messages handed to the owner. */
  readonly delivered = new Set<string>();
  /** Messages handed over, or that existed before the subscription without `replay`. */
  readonly known = new Set<string>();

  constructor(
    readonly sessionId: string,
    readonly replay: boolean,
    readonly handlers: SubscriptionHandlers,
  ) {}

  /** A method, not a property test: a handler may have closed it since the state was last looked at. */
  isClosed(): boolean {
    return this.state === "closed";
  }
}

type Outgoing = { type: "subscribe" | "unsubscribe"; sessionId: string; afterSeq?: number };

/** The shared WebSocket of one client and every subscription multiplexed on it. */
export class LiveConnection {
  readonly #context: LiveContext;
  readonly #url: string;
  /** Subscriptions by session id; the server holds one subscription per session and socket. */
  readonly #topics = new Map<string, Set<Subscription>>();
  /** Sessions the current socket is subscribed to (the server answered `subscribed`). */
  readonly #confirmed = new Set<string>();
  #state: "idle" | "connecting" | "open" | "waiting" = "idle";
  #socket: WebSocketLike | undefined;
  /** Bumped whenever a socket is abandoned: the callbacks of older sockets then do nothing. */
  #generation = 0;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(context: LiveContext) {
    this.#context = context;
    this.#url = liveUrl(context.baseUrl);
  }

  subscribe(sessionId: string, replay: boolean, handlers: SubscriptionHandlers): () => void {
    const subscription = new Subscription(sessionId, replay, handlers);
    let topic = this.#topics.get(sessionId);
    const fresh = topic === undefined;
    if (!topic) {
      topic = new Set();
      this.#topics.set(sessionId, topic);
    }
    topic.add(subscription);
    if (this.#state === "open") {
      if (this.#confirmed.has(sessionId)) {
        subscription.joined = true;
        this.#startSync(subscription);
      } else if (fresh) {
        this.#send({ type: "subscribe", sessionId });
      }
      // Otherwise a subscribe is on its way; its `subscribed` starts this subscription too.
    } else if (this.#state === "idle") {
      void this.#connect();
    }
    return () => this.#remove(subscription);
  }

  /** Ends every subscription quietly and closes the socket. */
  close(): void {
    const all = [...this.#topics.values()].flatMap((topic) => [...topic]);
    this.#topics.clear();
    this.#shutdown();
    for (const subscription of all) {
      if (subscription.state === "closed") continue;
      this.#detach(subscription);
      subscription.handlers.closed();
    }
  }

  #remove(subscription: Subscription): void {
    if (subscription.state === "closed") return;
    this.#detach(subscription);
    subscription.handlers.closed();
  }

  /** Takes a subscription off the socket, unsubscribing from its session when it was the last one. */
  #detach(subscription: Subscription): void {
    subscription.state = "closed";
    subscription.buffer = [];
    const { sessionId } = subscription;
    const topic = this.#topics.get(sessionId);
    if (!topic?.delete(subscription) || topic.size > 0) return;
    this.#topics.delete(sessionId);
    if (this.#topics.size === 0) {
      this.#shutdown();
      return;
    }
    // Sent even while the subscribe is unanswered; a `subscribed` that still comes back is undone in #handle.
    this.#send({ type: "unsubscribe", sessionId });
    this.#confirmed.delete(sessionId);
  }

  /** Nothing is subscribed any more, or nothing can be: close the socket and stop retrying. */
  #shutdown(): void {
    this.#generation++;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    this.#state = "idle";
    this.#attempt = 0;
    this.#confirmed.clear();
    if (socket) {
      try {
        socket.close(CLOSE_NORMAL);
      } catch {
        // Closing a socket that is still connecting may throw in some implementations; it is abandoned anyway.
      }
    }
  }

  async #connect(): Promise<void> {
    const generation = ++this.#generation;
    this.#state = "connecting";
    let token: string | undefined;
    let create: (url: string, token: string | undefined) => WebSocketLike;
    try {
      token = await this.#context.token();
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#reportAll(asMimicError(error, "The token function failed before a live-events connection"));
      this.#retry();
      return;
    }
    try {
      create = await this.#factory();
    } catch (error) {
      if (generation === this.#generation)
        this.#failAll(asMimicError(error, "No WebSocket implementation for live events"));
      return;
    }
    if (generation !== this.#generation) return;
    let socket: WebSocketLike;
    try {
      socket = create(this.#url, token);
    } catch (error) {
      this.#failAll(asMimicError(error, "Could not open the live-events connection"));
      return;
    }
    this.#socket = socket;
    let opened = false;
    // A close event follows every error: that is where failures are handled.
    socket.onerror = () => {};
    socket.onopen = () => {
      if (generation !== this.#generation) return;
      opened = true;
      this.#state = "open";
      this.#confirmed.clear();
      for (const [sessionId, topic] of this.#topics) {
        // Subscriptions that caught up once resume after the seq they have (the lowest, for the topic); the
        // server sends the messages they missed, then the session's state. Others read the session over HTTP.
        let afterSeq: number | undefined;
        for (const subscription of topic) {
          subscription.state = "pending";
          subscription.joined = false;
          subscription.sync++;
          subscription.resuming = subscription.synced && subscription.seq !== undefined;
          if (subscription.resuming)
            afterSeq = Math.min(afterSeq ?? Number.POSITIVE_INFINITY, subscription.seq!);
        }
        this.#send(
          afterSeq === undefined
            ? { type: "subscribe", sessionId }
            : { type: "subscribe", sessionId, afterSeq },
        );
      }
    };
    socket.onmessage = (event) => {
      if (generation !== this.#generation) return;
      // The server talks: the connection works, so the next failure starts the backoff over.
      this.#attempt = 0;
      this.#handle(event.data);
    };
    socket.onclose = (event) => {
      if (generation !== this.#generation) return;
      this.#socket = undefined;
      this.#confirmed.clear();
      if (this.#topics.size === 0) {
        this.#shutdown();
      } else if (event.code === CLOSE_POLICY_VIOLATION) {
        this.#failAll(
          new RateLimitError(event.reason || "Too many live-event connections", {
            status: 429,
            code: "RATE_LIMIT_EXCEEDED",
          }),
        );
      } else if (opened) {
        this.#retry();
      } else {
        void this.#retryUnlessRefused(generation);
      }
    };
  }

  /** How to make a socket: the `webSocket` option, else the platform's WebSocket, else (Node 20) `ws`. */
  async #factory(): Promise<(url: string, token: string | undefined) => WebSocketLike> {
    const Standard =
      this.#context.webSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (Standard) {
      // Browsers cannot set headers on a WebSocket: the token goes in the query string.
      return (url, token) => {
        if (!token) return new Standard(url);
        const withToken = new URL(url);
        withToken.searchParams.set("token", token);
        return new Standard(withToken.toString());
      };
    }
    // The one module src/ loads that is not its own: Node 20 has no WebSocket class, `ws` provides one and can
    // send the token as a header, out of URLs and access logs. Never reached where a WebSocket class exists.
    const { default: NodeWebSocket } = await import("ws");
    return (url, token) =>
      new NodeWebSocket(url, {
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
        ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      }) as WebSocketLike;
  }

  /**
   * The connection failed before opening. A WebSocket does not tell why (browsers never expose the status), so
   * ask the API whether the token is good: a 401 ends every subscription, anything else is worth a retry.
   */
  async #retryUnlessRefused(generation: number): Promise<void> {
    let refused: AuthenticationError | undefined;
    try {
      await this.#context.checkAuth();
    } catch (error) {
      if (error instanceof AuthenticationError) refused = error;
    }
    if (generation !== this.#generation) return;
    if (refused) this.#failAll(refused);
    else this.#retry();
  }

  #retry(): void {
    if (this.#topics.size === 0) {
      this.#shutdown();
      return;
    }
    this.#state = "waiting";
    this.#socket = undefined;
    const delay = reconnectDelayMs(this.#attempt++);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#connect();
    }, delay);
  }

  #send(message: Outgoing): void {
    const socket = this.#socket;
    if (socket && socket.readyState === OPEN) socket.send(JSON.stringify(message));
  }

  #handle(raw: unknown): void {
    let message: LiveEvent;
    try {
      message = JSON.parse(String(raw)) as LiveEvent;
    } catch {
      return;
    }
    if (typeof message !== "object" || message === null) return;
    switch (message.type) {
      case "subscribed": {
        const { sessionId } = message;
        const topic = this.#topics.get(sessionId);
        // Unsubscribed meanwhile, and the server subscribed anyway (it answers a subscribe it was still
        // checking after the unsubscribe): undo it.
        if (!topic) {
          this.#send({ type: "unsubscribe", sessionId });
          return;
        }
        this.#confirmed.add(sessionId);
        for (const subscription of topic) {
          if (subscription.state !== "pending") continue;
          if (subscription.resuming) {
            subscription.resuming = false;
            subscription.state = "live";
            this.#flush(subscription);
          } else {
            this.#startSync(subscription);
          }
        }
        return;
      }
      case "unsubscribed":
        return;
      case "error": {
        const error = errorFromEvent(message);
        const { sessionId } = message;
        if (sessionId === undefined) {
          this.#reportAll(error);
          return;
        }
        const topic = this.#topics.get(sessionId);
        if (!topic) return;
        // The server only reports a session's errors in answer to a subscribe it refused.
        this.#topics.delete(sessionId);
        if (this.#confirmed.delete(sessionId)) this.#send({ type: "unsubscribe", sessionId });
        for (const subscription of topic) this.#fail(subscription, error, message);
        if (this.#topics.size === 0) this.#shutdown();
        return;
      }
      case "session_update":
      case "new_message":
      case "session_end": {
        const topic = this.#topics.get(message.sessionId);
        if (!topic) return;
        for (const subscription of [...topic]) {
          if (subscription.state === "live") this.#deliver(subscription, message);
          else if (subscription.state !== "closed") this.#hold(subscription, message);
        }
        return;
      }
      default:
        // An event type this SDK does not know yet.
        return;
    }
  }

  /** Keeps an event for later (the subscription is catching up), unless it is one it has already. */
  #hold(subscription: Subscription, event: SessionDataEvent): void {
    const seq = seqOf(event);
    if (seq !== undefined) {
      if (isRepeat(subscription, event, seq)) return;
      subscription.seq = Math.max(subscription.seq ?? seq, seq);
    }
    subscription.buffer.push(event);
  }

  /** Hands an event to the owner: each message once, one session_end, after which the subscription ends. */
  #deliver(subscription: Subscription, received: SessionDataEvent, held = false): void {
    if (subscription.state === "closed") return;
    const { handlers } = subscription;
    const seq = seqOf(received);
    if (seq !== undefined && !held) {
      // Sent again after a resubscription, and delivered already.
      if (isRepeat(subscription, received, seq)) return;
      subscription.seq = Math.max(subscription.seq ?? seq, seq);
    }
    // The seq is the SDK's business (it resumes with it): events look the same whether they came live or were
    // rebuilt from the session read over HTTP.
    const event = withoutSeq(received);
    if (event.type === "new_message") {
      if (subscription.delivered.has(event.data.id)) return;
      subscription.delivered.add(event.data.id);
      subscription.known.add(event.data.id);
      handlers.event(event);
    } else if (event.type === "session_end") {
      if (subscription.ended) return;
      subscription.ended = true;
      handlers.event(event);
      // Unless the callback unsubscribed already: nothing can follow the end of a session.
      if (subscription.isClosed()) return;
      this.#detach(subscription);
      handlers.end(event);
      handlers.closed();
    } else {
      handlers.event(event);
    }
  }

  /**
   * Reads the session over HTTP once the server confirmed the subscription, while live events wait: the
   * messages a reconnection missed (or, with `replay`, every message) are delivered first, in order, then the
   * waiting events, then a session_end if the session is over and none came.
   */
  #startSync(subscription: Subscription): void {
    subscription.state = "syncing";
    const sync = ++subscription.sync;
    const current = () => subscription.sync === sync && subscription.state === "syncing";
    this.#context.fetchSession(subscription.sessionId).then(
      (session) => {
        if (current()) this.#catchUp(subscription, session);
      },
      (error: unknown) => {
        if (!current()) return;
        subscription.handlers.error(
          asMimicError(error, "Could not read the session to catch up on its events"),
          false,
        );
        if (subscription.state !== "syncing") return;
        subscription.state = "live";
        this.#flush(subscription);
      },
    );
  }

  #catchUp(subscription: Subscription, session: SessionDetail): void {
    const first = !subscription.synced;
    subscription.synced = true;
    const waiting = new Set<string>();
    for (const event of subscription.buffer) if (event.type === "new_message") waiting.add(event.data.id);
    const missed: SessionDataEvent[] = [];
    for (const message of session.messages) {
      if (subscription.known.has(message.id)) continue;
      // The first time, without replay, what existed before the subscription is the baseline, not news.
      if (first && !subscription.replay && !waiting.has(message.id)) {
        subscription.known.add(message.id);
        continue;
      }
      missed.push(newMessageEvent(message));
    }
    // What the server sends a new subscriber first, made from the session for one that joined.
    if (subscription.joined) missed.unshift(snapshotEvent(session));
    subscription.joined = false;
    subscription.state = "live";
    for (const event of missed) this.#deliver(subscription, event);
    this.#flush(subscription);
    if (hasEnded(session) && !subscription.ended) this.#deliver(subscription, endEvent(session));
  }

  #flush(subscription: Subscription): void {
    while (subscription.state === "live") {
      const event = subscription.buffer.shift();
      if (!event) return;
      this.#deliver(subscription, event, true);
    }
  }

  /** Ends one subscription on an error: the callback gets the error event, then `onError` the error. */
  #fail(subscription: Subscription, error: MimicError, event?: LiveErrorEvent): void {
    if (subscription.state === "closed") return;
    this.#detach(subscription);
    const { sessionId, handlers } = subscription;
    handlers.event(
      event ?? { type: "error", sessionId, error: { code: error.code ?? "ERROR", message: error.message } },
    );
    handlers.error(error, true);
    handlers.closed();
  }

  /** Ends every subscription on an error that no retry can fix (token refused, too many connections). */
  #failAll(error: MimicError): void {
    const all = [...this.#topics.values()].flatMap((topic) => [...topic]);
    this.#topics.clear();
    this.#shutdown();
    for (const subscription of all) this.#fail(subscription, error);
  }

  /** A problem the subscriptions survive. */
  #reportAll(error: MimicError): void {
    for (const topic of [...this.#topics.values()])
      for (const subscription of [...topic]) subscription.handlers.error(error, false);
  }
}
