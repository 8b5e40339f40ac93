// GET /api/ws: live session events. Clients send {type: "subscribe"|"unsubscribe", sessionId}; the server sends
// the seed's session_update / new_message / session_end events, plus subscribed, unsubscribed and error.
import { FINISHED_SESSION_STATUSES, type MimicDb, sessions } from "@mimic/db";
import { and, eq } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import type { WebSocket } from "ws";
import type { EventHub, SessionEvent } from "../../engine/events.js";
import { sessionEndEvent, sessionUpdateData } from "../../engine/session-store.js";
import { UUID_RE } from "../../lib/schemas.js";
import { bearerToken, userOf } from "../../plugins/auth.js";

const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;
const PING_INTERVAL_MS = 30_000;

type ErrorCode = "VALIDATION_ERROR" | "RESOURCE_NOT_FOUND" | "RATE_LIMIT_EXCEEDED";

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
      const subscriptions = new Map<string, { unsubscribe: () => void; cancelled: boolean }>();
      const send = (payload: object) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(payload));
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
        const principal = token ? await app.authenticateToken(token).catch(() => null) : null;
        if (principal?.user.id !== user.id) socket.close(4401, "Authentication expired or revoked");
      }, pingIntervalMs);

      async function subscribe(sessionId: string) {
        const entry = { unsubscribe: () => {}, cancelled: false };
        subscriptions.set(sessionId, entry);
        // Events are buffered from the moment of subscribing, so none falls between the snapshot and live delivery.
        const buffered: SessionEvent[] = [];
        let live = false;
        entry.unsubscribe = hub.subscribe(sessionId, (event: SessionEvent, ownerId: string) => {
          if (ownerId !== user.id) return;
          if (live) send(event);
          else buffered.push(event);
        });
        // Another user's session is indistinguishable from one that does not exist.
        const [session] = UUID_RE.test(sessionId)
          ? await db.db
              .select()
              .from(sessions)
              .where(and(eq(sessions.id, sessionId), eq(sessions.userId, user.id)))
          : [];
        if (entry.cancelled) return;
        if (!session) {
          entry.unsubscribe();
          subscriptions.delete(sessionId);
          return sendError("RESOURCE_NOT_FOUND", "Session not found", sessionId);
        }
        send({ type: "subscribed", sessionId });
        send({ type: "session_update", sessionId, data: sessionUpdateData(session) });
        if (entry.cancelled) return;
        const ended =
          (FINISHED_SESSION_STATUSES as readonly string[]).includes(session.status) &&
          !session.verdictPending;
        if (ended) {
          // A finished session's end is replayed at once; nothing more will come.
          send(sessionEndEvent(session));
          entry.unsubscribe();
          subscriptions.delete(sessionId);
          return;
        }
        live = true;
        for (const event of buffered) send(event);
      }

      socket.on("message", (raw, isBinary) => {
        let msg: { type?: unknown; sessionId?: unknown };
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
          const entry = subscriptions.get(sessionId);
          if (entry) {
            entry.cancelled = true;
            entry.unsubscribe();
            subscriptions.delete(sessionId);
          }
          return send({ type: "unsubscribed", sessionId });
        }
        if (subscriptions.has(sessionId)) return send({ type: "subscribed", sessionId });
        if (subscriptions.size >= MAX_SUBSCRIPTIONS_PER_SOCKET) {
          return sendError(
            "RATE_LIMIT_EXCEEDED",
            `At most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per connection`,
            sessionId,
          );
        }
        subscribe(sessionId).catch((error) => {
          request.log.error({ err: error, sessionId }, "subscribe failed");
          subscriptions.get(sessionId)?.unsubscribe();
          subscriptions.delete(sessionId);
          sendError("VALIDATION_ERROR", "Subscription failed; try again", sessionId);
        });
      });

      socket.on("close", () => {
        clearInterval(ping);
        for (const entry of subscriptions.values()) {
          entry.cancelled = true;
          entry.unsubscribe();
        }
        subscriptions.clear();
        open.delete(socket);
        if (open.size === 0) byUser.delete(user.id);
      });
    },
  );
}
