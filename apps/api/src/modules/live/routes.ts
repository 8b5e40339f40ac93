// GET /api/ws: live session events. Clients send {type: "subscribe"|"unsubscribe", sessionId}; the server sends
// the seed's session_update / new_message / session_end events, plus subscribed, unsubscribed and error.
import { type MimicDb, sessions } from "@mimic/db";
import { and, eq } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import type { WebSocket } from "ws";
import type { EventHub, SessionEvent } from "../../engine/events.js";
import { sessionUpdateData } from "../../engine/session-store.js";
import { UUID_RE } from "../../lib/schemas.js";
import { userOf } from "../../plugins/auth.js";

const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;
const PING_INTERVAL_MS = 30_000;

type ErrorCode = "VALIDATION_ERROR" | "RESOURCE_NOT_FOUND" | "RATE_LIMIT_EXCEEDED";

export interface LiveOptions {
  db: MimicDb;
  hub: EventHub;
  maxConnectionsPerUser: number;
}

export async function liveRoutes(app: FastifyInstance, { db, hub, maxConnectionsPerUser }: LiveOptions) {
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

      const subscriptions = new Map<string, () => void>();
      const send = (payload: object) => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(payload));
      };
      const sendError = (code: ErrorCode, message: string, sessionId?: string) =>
        send({ type: "error", ...(sessionId ? { sessionId } : {}), error: { code, message } });

      let alive = true;
      socket.on("pong", () => {
        alive = true;
      });
      const ping = setInterval(() => {
        if (!alive) return socket.terminate();
        alive = false;
        socket.ping();
      }, PING_INTERVAL_MS);

      socket.on("message", async (raw, isBinary) => {
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
          subscriptions.get(sessionId)?.();
          subscriptions.delete(sessionId);
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
        // Another user's session is indistinguishable from one that does not exist.
        const [session] = UUID_RE.test(sessionId)
          ? await db.db
              .select({ id: sessions.id, status: sessions.status, userId: sessions.userId })
              .from(sessions)
              .where(and(eq(sessions.id, sessionId), eq(sessions.userId, user.id)))
          : [];
        if (!session) return sendError("RESOURCE_NOT_FOUND", "Session not found", sessionId);
        if (socket.readyState !== socket.OPEN) return;
        subscriptions.set(
          sessionId,
          hub.subscribe(sessionId, (event: SessionEvent, ownerId: string) => {
            if (ownerId === user.id) send(event);
          }),
        );
        send({ type: "subscribed", sessionId });
        // The current state, so a late subscriber does not wait for the next change.
        send({ type: "session_update", sessionId, data: await sessionUpdateData(db.db, session) });
      });

      socket.on("close", () => {
        clearInterval(ping);
        for (const unsubscribe of subscriptions.values()) unsubscribe();
        subscriptions.clear();
        open.delete(socket);
        if (open.size === 0) byUser.delete(user.id);
      });
    },
  );
}
