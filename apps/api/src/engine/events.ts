// Live events travel through PostgreSQL's LISTEN/NOTIFY, so a subscriber on one process sees sessions played
// by another. Writers call notify() inside the transaction that made the change: the event goes out on commit.
import { type Executor, type MimicDb, messages } from "@mimic/db";
import { eq, sql } from "drizzle-orm";

export const EVENTS_CHANNEL = "mimic_events";
/** Nudges runners to claim work now rather than at their next poll. */
export const WAKE_CHANNEL = "mimic_wake";

export interface MessageData {
  id: string;
  senderType: "persona" | "agent" | "system";
  content: string;
  timestamp: string;
  latencyMs: number | null;
}

export type SessionEvent =
  | {
      type: "session_update";
      sessionId: string;
      data: { status: string; messageCount: number; lastMessage: string | null };
    }
  | { type: "new_message"; sessionId: string; data: MessageData }
  | {
      type: "session_end";
      sessionId: string;
      data: { reason: string; status: string; duration: number; messageCount: number; result?: unknown };
    };

interface Envelope {
  /** Owner of the session: the hub only hands events to that user's sockets. */
  userId: string;
  event?: SessionEvent;
  /** A new_message too large for a NOTIFY payload (8000 bytes) travels by id and is read back. */
  messageRef?: string;
  sessionId?: string;
}

const MAX_PAYLOAD = 7500;

export async function notify(tx: Executor, userId: string, event: SessionEvent) {
  let payload = JSON.stringify({ userId, event } satisfies Envelope);
  if (Buffer.byteLength(payload) > MAX_PAYLOAD && event.type === "new_message") {
    payload = JSON.stringify({
      userId,
      messageRef: event.data.id,
      sessionId: event.sessionId,
    } satisfies Envelope);
  }
  await tx.execute(sql`select pg_notify(${EVENTS_CHANNEL}, ${payload})`);
}

export async function wake(tx: Executor) {
  await tx.execute(sql`select pg_notify(${WAKE_CHANNEL}, '')`);
}

export type EventListener = (event: SessionEvent, userId: string) => void;

/** One LISTEN per process, fanned out to every local subscriber of a session. */
export class EventHub {
  private readonly bySession = new Map<string, Set<EventListener>>();
  private readonly all = new Set<EventListener>();
  private unlisten: (() => Promise<void>) | undefined;

  constructor(
    private readonly db: MimicDb,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  async start() {
    this.unlisten = await this.db.listen(EVENTS_CHANNEL, (payload) => {
      this.dispatch(payload).catch(this.onError);
    });
  }

  async stop() {
    // The database may already be gone (shutdown after an outage): nothing is left to unlisten then.
    await this.unlisten?.().catch(this.onError);
    this.unlisten = undefined;
    this.bySession.clear();
    this.all.clear();
  }

  /** Every event of one session. Returns the unsubscribe function. */
  subscribe(sessionId: string, listener: EventListener): () => void {
    let set = this.bySession.get(sessionId);
    if (!set) {
      set = new Set();
      this.bySession.set(sessionId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.bySession.delete(sessionId);
    };
  }

  /** Every event of every session (the dev transcript printer, adapters closing on session_end). */
  subscribeAll(listener: EventListener): () => void {
    this.all.add(listener);
    return () => this.all.delete(listener);
  }

  private async dispatch(payload: string) {
    const envelope = JSON.parse(payload) as Envelope;
    let event = envelope.event;
    if (!event && envelope.messageRef && envelope.sessionId) {
      const [row] = await this.db.db.select().from(messages).where(eq(messages.id, envelope.messageRef));
      if (!row) return;
      event = { type: "new_message", sessionId: envelope.sessionId, data: toMessageData(row) };
    }
    if (!event) return;
    for (const listener of this.all) listener(event, envelope.userId);
    for (const listener of this.bySession.get(event.sessionId) ?? []) listener(event, envelope.userId);
  }
}

export function toMessageData(row: typeof messages.$inferSelect): MessageData {
  return {
    id: row.id,
    senderType: row.senderType,
    content: row.content,
    timestamp: row.timestamp.toISOString(),
    latencyMs: row.latencyMs,
  };
}
