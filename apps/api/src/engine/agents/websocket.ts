// websocket: Mimic dials the bot, sends {type:"message", sessionId, messageId, content} frames and records
// every frame the bot sends back. One connection per session per process; redialled if it drops.
import WebSocket from "ws";
import { userHeaders } from "../../lib/outbound.js";
import {
  assertTarget,
  guardedLookup,
  networkReason,
  OutboundError,
  type OutboundPolicy,
} from "../outbound.js";
import type { AgentAdapter, AgentMessageSink, DeliveryContext } from "./types.js";
import { MAX_REPLY_CHARS } from "./types.js";

interface Connection {
  ws: WebSocket;
  ready: Promise<void>;
}

/** Text of a bot frame: `{"content": "…"}`, `{"reply": "…"}`, `{"type":"message","content":"…"}` or plain text. */
export function frameText(data: string): string | undefined {
  try {
    const parsed = JSON.parse(data) as Record<string, unknown>;
    if (parsed && typeof parsed === "object") {
      const text = parsed.content ?? parsed.reply ?? parsed.text;
      return typeof text === "string" ? text : undefined;
    }
  } catch {
    // Plain text frame.
  }
  return data;
}

/**
 * Opens a WebSocket to an agent through the outbound guards (ws/wss only, no private targets unless allowed, no
 * redirects, the connect timeout); `ready` settles once the handshake is done, with an OutboundError if it fails.
 */
export function dialAgentSocket(
  url: URL,
  options: { headers: Record<string, string>; policy: OutboundPolicy; maxPayload: number },
): { ws: WebSocket; ready: Promise<void> } {
  const { policy } = options;
  assertTarget(url, ["ws:", "wss:"], policy.allowPrivateTargets);
  const ws = new WebSocket(url, {
    headers: options.headers,
    handshakeTimeout: policy.connectTimeoutMs,
    maxPayload: options.maxPayload,
    followRedirects: false,
    lookup: guardedLookup(policy.allowPrivateTargets),
  });
  const ready = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", (error) =>
      reject(new OutboundError(`WebSocket connection failed: ${networkReason(error)}`, true)),
    );
    ws.once("unexpected-response", (_req, res) => {
      reject(
        new OutboundError(
          `WebSocket handshake answered HTTP ${res.statusCode}`,
          (res.statusCode ?? 0) >= 500,
        ),
      );
      ws.terminate();
    });
  });
  return { ws, ready };
}

export function createWebsocketAdapter(
  sink: AgentMessageSink,
  log: (msg: string) => void = () => {},
): AgentAdapter {
  const connections = new Map<string, Connection>();
  const recording = new Map<string, Promise<void>>();

  function dial(context: Omit<DeliveryContext, "message">): Connection {
    const existing = connections.get(context.sessionId);
    if (existing && existing.ws.readyState <= WebSocket.OPEN) return existing;
    const { agent } = context;
    if (agent.type !== "websocket")
      throw new OutboundError(`a ${agent.type} agent is not a WebSocket agent`, false);
    // Handshake and transport headers are the client's: a user's header never replaces them.
    const headers = userHeaders(agent.config.headers, agent.config.api_key !== undefined);
    if (agent.config.api_key) headers.authorization = `Bearer ${agent.config.api_key}`;
    const { ws, ready } = dialAgentSocket(new URL(agent.config.url), {
      headers: { ...headers, "x-mimic-session-id": context.sessionId },
      policy: context.policy,
      maxPayload: MAX_REPLY_CHARS * 4,
    });
    ready.catch(() => connections.delete(context.sessionId));
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const text = frameText(data.toString("utf8"));
      if (!text?.trim()) return;
      // Frames are recorded one after another, in the order they arrived.
      const previous = recording.get(context.sessionId) ?? Promise.resolve();
      const next = previous
        .then(() => sink(context.sessionId, text.slice(0, MAX_REPLY_CHARS)))
        .catch((error: Error) => log(`recording a frame failed: ${error.message}`));
      recording.set(context.sessionId, next);
      void next.then(() => {
        if (recording.get(context.sessionId) === next) recording.delete(context.sessionId);
      });
    });
    ws.on("close", () => {
      if (connections.get(context.sessionId)?.ws === ws) connections.delete(context.sessionId);
    });
    ws.on("error", () => {});
    const connection = { ws, ready };
    connections.set(context.sessionId, connection);
    return connection;
  }

  return {
    async open(context) {
      await dial(context).ready;
    },
    async deliver(context) {
      const connection = dial(context);
      await connection.ready;
      const frame = JSON.stringify({
        type: "message",
        sessionId: context.sessionId,
        messageId: context.message.id,
        content: context.message.content,
        persona: context.persona,
      });
      await new Promise<void>((resolve, reject) =>
        connection.ws.send(frame, (error) =>
          error ? reject(new OutboundError(`WebSocket send failed: ${error.message}`, true)) : resolve(),
        ),
      );
      return { replies: [], open: true };
    },
    async close(sessionId) {
      const connection = connections.get(sessionId);
      connections.delete(sessionId);
      connection?.ws.close(1000, "session ended");
    },
    held() {
      return [...connections.keys()];
    },
    async shutdown() {
      for (const { ws } of connections.values()) ws.close(1001, "Mimic is shutting down");
      connections.clear();
    },
  };
}
