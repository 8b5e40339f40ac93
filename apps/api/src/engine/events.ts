// Live events travel through PostgreSQL's LISTEN/NOTIFY, so a subscriber on one process sees sessions played
// by another. Writers call notify() inside the transaction that made the change: the event goes out on commit.
import { type Executor, type MimicDb, messages, type SessionEndReason, type SessionResult } from "@mimic/db";
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
      data: {
        reason: string;
        endReason: SessionEndReason | null;
        status: string;
        duration: number;
        messageCount: number;
        result?: SessionResult;
      };
    };

/** One NOTIFY payload: a transaction's events for one user (a big message travels by id and is read back). */
interface Envelope {
  userId: string;
  events: (SessionEvent | { ref: string; sessionId: string })[];
}

/** NOTIFY payloads must stay under 8000 bytes. */
const MAX_PAYLOAD = 7500;

/**
 * Collects the events of one transaction and sends them with as few NOTIFYs as fit (usually one), delivered on
 * commit. A turn writes a message, updates the session and announces both for the cost of one statement.
 */
export class Outbox {
  private readonly pending: { userId: string; event: SessionEvent }[] = [];
  private wakeRunners = false;

  add(userId: string, event: SessionEvent) {
    this.pending.push({ userId, event });
  }

  /** Ask runners to claim work now (a session became due). */
  wake() {
    this.wakeRunners = true;
  }

  async flush(tx: Executor) {
    const payloads: string[] = [];
    let current: Envelope | undefined;
    let size = 0;
    for (const { userId, event } of this.pending) {
      let item: Envelope["events"][number] = event;
      let text = JSON.stringify(item);
      if (Buffer.byteLength(text) > MAX_PAYLOAD - 200 && event.type === "new_message") {
        item = { ref: event.data.id, sessionId: event.sessionId };
        text = JSON.stringify(item);
      }
      const bytes = Buffer.byteLength(text);
      if (!current || current.userId !== userId || size + bytes > MAX_PAYLOAD) {
        if (current) payloads.push(JSON.stringify(current));
        current = { userId, events: [] };
        size = 100;
      }
      current.events.push(item);
      size += bytes + 1;
    }
    if (current) payloads.push(JSON.stringify(current));
    this.pending.length = 0;
    for (const payload of payloads) await tx.execute(sql`select pg_notify(${EVENTS_CHANNEL}, ${payload})`);
    if (this.wakeRunners) await tx.execute(sql`select pg_notify(${WAKE_CHANNEL}, '')`);
    this.wakeRunners = false;
  }
}

/** Sends one event now (within `tx`, so on commit). */
export async function notify(tx: Executor, userId: string, event: SessionEvent) {
  const outbox = new Outbox();
  outbox.add(userId, event);
  await outbox.flush(tx);
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
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: MimicDb,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  async start() {
    this.unlisten = await this.db.listen(EVENTS_CHANNEL, (payload) => {
      // One at a time, in arrival order: a message read back by id must not be overtaken by later events.
      this.chain = this.chain.then(() => this.dispatch(payload)).catch(this.onError);
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
    for (const item of envelope.events) {
      let event: SessionEvent | undefined;
      if ("ref" in item) {
        const [row] = await this.db.db.select().from(messages).where(eq(messages.id, item.ref));
        if (row) event = { type: "new_message", sessionId: item.sessionId, data: toMessageData(row) };
      } else {
        event = item;
      }
      if (!event) continue;
      for (const listener of this.all) listener(event, envelope.userId);
      for (const listener of this.bySession.get(event.sessionId) ?? []) listener(event, envelope.userId);
    }
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
