// A raw /api/ws subscriber that does what a resuming client should: remember the last seq of the session and,
// when its socket drops, subscribe again with {afterSeq}. It keeps every event the server sent, unfiltered, so
// tests can check that the stream itself holds each message once, in order.
import WebSocket from "ws";

export interface LiveEvent {
  type: string;
  sessionId?: string;
  seq?: number;
  data?: { id?: string; status?: string; messageCount?: number; senderType?: string };
  error?: { code: string; message: string };
}

export interface ResumingSubscriber {
  /** Every message the server sent, across connections. */
  events: LiveEvent[];
  /** Connections made (1 + reconnections). */
  connections: number;
  /** The seq of the latest session event received. */
  lastSeq(): number | undefined;
  messageIds(): string[];
  ended(): boolean;
  /** Drops the current connection from the client's side (as a network failure would). */
  drop(): void;
  close(): void;
}

export function resumingSubscriber(
  wsUrl: string,
  token: string,
  sessionId: string,
  options: { afterSeq?: number } = {},
): ResumingSubscriber {
  const events: LiveEvent[] = [];
  let lastSeq = options.afterSeq;
  let socket: WebSocket | undefined;
  let closed = false;
  const subscriber: ResumingSubscriber = {
    events,
    connections: 0,
    lastSeq: () => lastSeq,
    messageIds: () => events.flatMap((e) => (e.type === "new_message" && e.data?.id ? [e.data.id] : [])),
    ended: () => events.some((e) => e.type === "session_end"),
    drop: () => socket?.terminate(),
    close() {
      closed = true;
      socket?.close();
    },
  };
  const connect = () => {
    subscriber.connections++;
    const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } });
    socket = ws;
    ws.on("open", () =>
      ws.send(
        JSON.stringify({
          type: "subscribe",
          sessionId,
          ...(lastSeq !== undefined ? { afterSeq: lastSeq } : {}),
        }),
      ),
    );
    ws.on("message", (raw) => {
      const event = JSON.parse(raw.toString()) as LiveEvent;
      events.push(event);
      if (typeof event.seq === "number") lastSeq = Math.max(lastSeq ?? 0, event.seq);
    });
    ws.on("error", () => {});
    ws.on("close", () => {
      if (!closed && !subscriber.ended()) setTimeout(connect, 100);
    });
  };
  connect();
  return subscriber;
}
