// GET /api/ws: live session events. Clients send {type: "subscribe", sessionId, afterSeq?} or {type:
// "unsubscribe", sessionId}; the server sends the seed's session_update / new_message / session_end events, each
// with the session's `seq`, plus subscribed, unsubscribed and error. A subscriber is sent what it missed, read from
// the tables: after the `afterSeq` it gave, after a jump in seq (a lost notification), and after the event listener
// was down — so it sees every message once, in order, whatever the network or the database did meanwhile.
import type { Socket } from "node:net";
import type { MimicDb } from "@mimic/db";
import type { FastifyInstance } from "fastify";
import type { WebSocket } from "ws";
import type { EventHub, SessionEvent } from "../../engine/events.js";
import { UUID_RE } from "../../lib/schemas.js";
import { bearerToken, userOf } from "../../plugins/auth.js";
import { isDatabaseUnavailable } from "../../plugins/errors.js";
import { readCatchUp } from "./service.js";

/**
 * Each event as it goes on the wire, encoded once however many sockets it goes to: the hub hands the same object to
 * every subscriber of its session, and ws sends a Buffer as it is.
 */
const encoded = new WeakMap<SessionEvent, Buffer>();
function encode(event: SessionEvent): Buffer {
  let data = encoded.get(event);
  if (!data) {
    data = Buffer.from(JSON.stringify(event));
    encoded.set(event, data);
  }
  return data;
}

const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;
const PING_INTERVAL_MS = 30_000;
/** Retries of a catch-up while the database is away: 250 ms doubling to 5 s (sooner when the listener is back). */
const RETRY_MS = [250, 500, 1000, 2000, 5000];

type ErrorCode = "VALIDATION_ERROR" | "RESOURCE_NOT_FOUND" | "RATE_LIMIT_EXCEEDED";

/** One session watched on one socket. */
interface Subscription {
  sessionId: string;
  cancelled: boolean;
  unsubscribe: () => void;
  /** Events go straight out; otherwise they wait in `buffer` for a catch-up in progress. */
  live: boolean;
  buffer: SessionEvent[];
  /** The seq of the last event sent (the state the subscriber has); -1 before the first catch-up. */
  seq: number;
  /** `subscribed` was sent: the session is the user's. */
  confirmed: boolean;
  ended: boolean;
  syncing: boolean;
  /** Another catch-up was asked for while one ran. */
  again: boolean;
  /** Cuts a retry wait short. */
  wake: (() => void) | undefined;
}

export interface LiveOptions {
  db: MimicDb;
  hub: EventHub;
  maxConnectionsPerUser: number;
  /** Keep-alive and credential re-check period (tests shorten it). */
  pingIntervalMs?: number;
}

export async function liveRoutes(
  app: FastifyInstance,
  { db, hub, maxConnectionsPerUser, pingIntervalMs = PING_INTERVAL_MS }: LiveOptions,
) {
  const byUser = new Map<string, Set<WebSocket>>();

  app.get(
    "/ws",
    {
      websocket: true,
      schema: {
        operationId: "liveEvents",
        tags: ["sessions"],
        summary: "Live session events over WebSocket (auth: Authorization header or ?token=)",
        hide: true,
      },
    },
    (socket, request) => {
      const user = userOf(request);
      const open = byUser.get(user.id) ?? new Set<WebSocket>();
      if (open.size >= maxConnectionsPerUser) {
        socket.close(1008, `Too many connections: at most ${maxConnectionsPerUser} per user`);
        return;
      }
      open.add(socket);
      byUser.set(user.id, open);

      // A subscription is reserved before its ownership check (an await), so a second subscribe or an
      // unsubscribe arriving meanwhile cannot leak a listener.
      const subscriptions = new Map<string, Subscription>();
      const send = (payload: object) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(payload));
      };
      const sendEvent = (event: SessionEvent) => {
        if (socket.readyState === socket.OPEN) socket.send(encode(event), { binary: false });
      };
      // Frames sent together (a notification's message and session update, a catch-up) leave in one write: with
      // many subscribers, a write per socket per event is most of what fan-out costs.
      // The connection under the WebSocket (there is none when tests inject one).
      const tcp = request.raw.socket as Socket | undefined;
      const together = (send: () => void) => {
        tcp?.cork();
        try {
          send();
        } finally {
          tcp?.uncork();
        }
      };
      const sendError = (code: ErrorCode, message: string, sessionId?: string) =>
        send({ type: "error", ...(sessionId ? { sessionId } : {}), error: { code, message } });

      // The connection lives as long as its credential: re-checked at every ping (expiry, revocation, deletion).
      const token = bearerToken(request);
      let alive = true;
      socket.on("pong", () => {
        alive = true;
      });
      const ping = setInterval(async () => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
        let principal: Awaited<ReturnType<typeof app.authenticateToken>> = null;
        try {
          principal = token ? await app.authenticateToken(token) : null;
        } catch (error) {
          // The database is away: the credential cannot be checked now, which does not make it bad.
          if (isDatabaseUnavailable(error)) return;
        }
        if (principal?.user.id !== user.id) socket.close(4401, "Authentication expired or revoked");
      }, pingIntervalMs);

      const remove = (sub: Subscription) => {
        sub.cancelled = true;
        sub.unsubscribe();
        sub.wake?.();
        if (subscriptions.get(sub.sessionId) === sub) subscriptions.delete(sub.sessionId);
      };

      /** Sends an event unless the subscriber has it; a jump in seq means one was lost: catch up instead. */
      const deliver = (sub: Subscription, event: SessionEvent) => {
        if (event.seq !== undefined) {
          if (event.seq <= sub.seq) return;
          if (event.seq > sub.seq + 1) {
            // It and those after it are in the tables: the catch-up reads them, later ones wait in the buffer.
            sub.live = false;
            void catchUp(sub).catch(failed(sub));
            return;
          }
          sub.seq = event.seq;
        }
        if (event.type === "session_end") {
          if (sub.ended) return;
          sub.ended = true;
        }
        sendEvent(event);
      };

      /**
       * Brings a subscriber up to date from the tables, then lets live events through: the first time (after
       * `afterSeq`, if given), and again whenever events may have been lost. One at a time per subscription;
       * while the database is away it retries until it answers.
       */
      async function catchUp(sub: Subscription, afterSeq?: number) {
        if (sub.syncing) {
          sub.again = true;
          sub.wake?.();
          return;
        }
        sub.syncing = true;
        sub.live = false;
        let attempt = 0;
        try {
          do {
            sub.again = false;
            let result: Awaited<ReturnType<typeof readCatchUp>>;
            try {
              result = UUID_RE.test(sub.sessionId)
                ? await readCatchUp(db.db, user.id, sub.sessionId, sub.confirmed ? sub.seq : afterSeq)
                : undefined;
            } catch (error) {
              if (sub.cancelled) return;
              if (!isDatabaseUnavailable(error)) throw error;
              if (attempt === 0)
                request.log.warn({ sessionId: sub.sessionId }, "live catch-up waits for the database");
              const delay = RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]!;
              await new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, delay);
                sub.wake = () => {
                  clearTimeout(timer);
                  resolve();
                };
              });
              sub.wake = undefined;
              sub.again = true;
              continue;
            }
            if (sub.cancelled) return;
            // Another user's session is indistinguishable from one that does not exist.
            if (!result) {
              remove(sub);
              return sendError("RESOURCE_NOT_FOUND", "Session not found", sub.sessionId);
            }
            const first = !sub.confirmed;
            const end = sub.ended ? undefined : result.end;
            together(() => {
              if (first) {
                sub.confirmed = true;
                send({ type: "subscribed", sessionId: sub.sessionId });
              }
              for (const event of result.messages)
                if (event.seq === undefined || event.seq > sub.seq) sendEvent(event);
              if (first || result.seq > sub.seq) sendEvent(result.snapshot);
              sub.seq = Math.max(sub.seq, result.seq);
              if (end) {
                sub.ended = true;
                sendEvent(end);
              }
            });
            // A session already over when subscribing: nothing more will come.
            if (end && first) return remove(sub);
            sub.live = true;
            together(() => {
              while (sub.live && sub.buffer.length > 0 && !sub.cancelled) deliver(sub, sub.buffer.shift()!);
            });
          } while (sub.again && !sub.cancelled);
        } finally {
          sub.syncing = false;
          sub.wake = undefined;
        }
      }

      function subscribe(sessionId: string, afterSeq: number | undefined) {
        const sub: Subscription = {
          sessionId,
          cancelled: false,
          unsubscribe: () => {},
          live: false,
          buffer: [],
          seq: -1,
          confirmed: false,
          ended: false,
          syncing: false,
          again: false,
          wake: undefined,
        };
        subscriptions.set(sessionId, sub);
        // Events are buffered from the moment of subscribing, so none falls between the catch-up and live delivery.
        sub.unsubscribe = hub.subscribeBatches(
          sessionId,
          (events, ownerId) => {
            if (ownerId !== user.id || sub.cancelled) return;
            together(() => {
              for (const event of events) {
                if (sub.live) deliver(sub, event);
                else sub.buffer.push(event);
              }
            });
          },
          () => {
            if (!sub.cancelled) void catchUp(sub).catch(failed(sub));
          },
        );
        void catchUp(sub, afterSeq).catch(failed(sub));
      }

      function failed(sub: Subscription) {
        return (error: unknown) => {
          request.log.error({ err: error, sessionId: sub.sessionId }, "subscribe failed");
          if (sub.cancelled) return;
          remove(sub);
          sendError("VALIDATION_ERROR", "Subscription failed; try again", sub.sessionId);
        };
      }

      socket.on("message", (raw, isBinary) => {
        let msg: { type?: unknown; sessionId?: unknown; afterSeq?: unknown };
        try {
          if (isBinary) throw new Error("binary");
          msg = JSON.parse(raw.toString("utf8"));
        } catch {
          return sendError(
            "VALIDATION_ERROR",
            'Messages must be JSON: {"type": "subscribe", "sessionId": "…"}',
          );
        }
        const sessionId = typeof msg.sessionId === "string" ? msg.sessionId : undefined;
        if ((msg.type !== "subscribe" && msg.type !== "unsubscribe") || !sessionId) {
          return sendError(
            "VALIDATION_ERROR",
            'Expected {"type": "subscribe" | "unsubscribe", "sessionId": "…"}',
            sessionId,
          );
        }
        if (msg.type === "unsubscribe") {
          const sub = subscriptions.get(sessionId);
          if (sub) remove(sub);
          return send({ type: "unsubscribed", sessionId });
        }
        const { afterSeq } = msg;
        if (afterSeq !== undefined && !(Number.isSafeInteger(afterSeq) && (afterSeq as number) >= 0)) {
          return sendError("VALIDATION_ERROR", "afterSeq must be an integer ≥ 0", sessionId);
        }
        if (subscriptions.has(sessionId)) return send({ type: "subscribed", sessionId });
        if (subscriptions.size >= MAX_SUBSCRIPTIONS_PER_SOCKET) {
          return sendError(
            "RATE_LIMIT_EXCEEDED",
            `At most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per connection`,
            sessionId,
          );
        }
        subscribe(sessionId, afterSeq as number | undefined);
      });

      socket.on("close", () => {
        clearInterval(ping);
        for (const sub of [...subscriptions.values()]) remove(sub);
        subscriptions.clear();
        open.delete(socket);
        if (open.size === 0) byUser.delete(user.id);
      });
    },
  );
}
