// Live events travel through PostgreSQL's LISTEN/NOTIFY, so a subscriber on one process sees sessions played
// by another. Writers queue events in an Outbox inside the transaction that made the change: they go out on commit.
// Every event of a session carries `seq`, the session's event counter (sessions.event_seq), assigned under the
// session's row lock in the same transaction: per session, seqs grow by one in commit order, which is the order
// NOTIFY delivers them. A subscriber that sees a jump, or whose listener was down, re-reads what it missed.
import { type Executor, type MimicDb, messages, type SessionEndReason, type SessionResult } from "@mimic/db";
import { eq, sql } from "drizzle-orm";
import { recordset, uuids } from "./sql.js";

export const EVENTS_CHANNEL = "mimic_events";
/** Nudges runners to claim work now rather than at their next poll. */
export const WAKE_CHANNEL = "mimic_wake";

export interface MessageData {
  id: string;
  senderType: "persona" | "agent" | "system";
  content: string;
  timestamp: string;
  latencyMs: number | null;
  /** Channel detail (a WhatsApp message's type, options, template, statuses); null for most messages. */
  metadata?: Record<string, unknown>;
}

/** `seq`: set on delivery (from the database); writers leave it out. */
export type SessionEvent =
  | {
      type: "session_update";
      sessionId: string;
      seq?: number;
      data: { status: string; messageCount: number; lastMessage: string | null };
    }
  | { type: "new_message"; sessionId: string; seq?: number; data: MessageData }
  | {
      type: "session_end";
      sessionId: string;
      seq?: number;
      data: {
        reason: string;
        endReason: SessionEndReason | null;
        status: string;
        duration: number;
        messageCount: number;
        result?: SessionResult;
      };
    };

/**
 * An event as it travels: `back` is its distance from the last event of its session in the transaction (a big
 * message travels by id and is read back).
 */
type Item = (SessionEvent | { ref: string; sessionId: string }) & { back: number };

/**
 * One NOTIFY payload: a transaction's events for one user. `ends` (each session's last seq) is appended by the
 * database in the statement that assigns the seqs, so sending costs no statement of its own.
 */
interface Envelope {
  userId: string;
  events: Item[];
  ends?: Record<string, number>;
}

/** NOTIFY payloads must stay under 8000 bytes. */
const MAX_PAYLOAD = 7500;
/** What one session adds to `ends`: `"<uuid>" : <seq>, `. */
const END_BYTES = 56;

/**
 * Collects the events of one transaction, numbers them and sends them with as few NOTIFYs as fit (usually one),
 * delivered on commit, all in one statement. A writer that holds a session's row lock hands the outbox its counter
 * (`locked`): the seqs are then known up front, its messages are inserted with their event's seq, and its own update
 * of the session can advance the counter (`bumped`), so the flush writes nothing but the NOTIFYs. Otherwise the flush
 * advances the sessions' counters and numbers the messages it announces itself.
 */
export class Outbox {
  private readonly pending: { userId: string; event: SessionEvent; stored?: number | null }[] = [];
  private wakeRunners = false;
  /** Sessions locked in this transaction: their event counter as read then, plus the events added since. */
  private readonly counters = new Map<string, { base: number; added: number; bumped: number }>();

  /**
   * The session's row is locked by this transaction and its event counter (sessions.event_seq) is `eventSeq`: the
   * seqs of its events are then known before flush, and a message can be inserted with the seq of the event that
   * announces it (see nextSeq) instead of being numbered by an update afterwards.
   */
  locked(sessionId: string, eventSeq: number) {
    this.counters.set(sessionId, { base: eventSeq, added: 0, bumped: 0 });
  }

  /**
   * The writer's own update of a locked session already added `by` to its event counter, for the events it is about
   * to queue: flush then writes the counter only if their number turns out different.
   */
  bumped(sessionId: string, by: number) {
    const counter = this.counters.get(sessionId);
    if (!counter) throw new Error("Outbox.bumped: lock the session (Outbox.locked) first");
    counter.bumped += by;
  }

  /**
   * The seq the `ahead`-th next event of a locked session will get (0: the next one); undefined when the session was
   * not locked through `locked`.
   */
  nextSeq(sessionId: string, ahead = 0): number | undefined {
    const counter = this.counters.get(sessionId);
    return counter ? counter.base + counter.added + 1 + ahead : undefined;
  }

  /**
   * Queues an event. `stored`: the event_seq its message was inserted with (new_message events); when it is the seq
   * the event gets, the message row is not updated again at flush.
   */
  add(userId: string, event: SessionEvent, stored?: number | null) {
    this.pending.push({ userId, event, stored });
    const counter = this.counters.get(event.sessionId);
    if (counter) counter.added++;
  }

  /** Ask runners to claim work now (a session became due). */
  wake() {
    this.wakeRunners = true;
  }

  async flush(tx: Executor) {
    const pending = this.pending.splice(0);
    const wake = this.wakeRunners;
    this.wakeRunners = false;
    const wakeNotify = wake ? [sql`pg_notify(${WAKE_CHANNEL}, '')`] : [];
    if (pending.length === 0) {
      if (wake) await tx.execute(sql`select ${wakeNotify[0]}`);
      return;
    }

    const counts = new Map<string, number>();
    for (const { event } of pending) counts.set(event.sessionId, (counts.get(event.sessionId) ?? 0) + 1);
    const seen = new Map<string, number>();
    const payloads: { head: string; sessions: string[] }[] = [];
    const announced: { id: string; session_id: string; back: number; seq: number | null }[] = [];
    let current: { userId: string; items: string[]; sessions: Set<string> } | undefined;
    let size = 0;
    const close = () => {
      if (!current) return;
      const head = `{"userId":${JSON.stringify(current.userId)},"events":[${current.items.join(",")}],"ends":`;
      payloads.push({ head, sessions: [...current.sessions] });
    };
    for (const { userId, event, stored } of pending) {
      const nth = (seen.get(event.sessionId) ?? 0) + 1;
      seen.set(event.sessionId, nth);
      const back = counts.get(event.sessionId)! - nth;
      const counter = this.counters.get(event.sessionId);
      // Numbered at insert already (the usual case on the engine's paths): nothing to write back.
      const numbered = counter !== undefined && stored === counter.base + nth;
      if (event.type === "new_message" && !numbered)
        announced.push({
          id: event.data.id,
          session_id: event.sessionId,
          back,
          seq: counter ? counter.base + nth : null,
        });
      let text = JSON.stringify({ ...event, back });
      if (Buffer.byteLength(text) > MAX_PAYLOAD - 300 && event.type === "new_message")
        text = JSON.stringify({ ref: event.data.id, sessionId: event.sessionId, back });
      const bytes = Buffer.byteLength(text) + 1 + (current?.sessions.has(event.sessionId) ? 0 : END_BYTES);
      if (!current || current.userId !== userId || size + bytes > MAX_PAYLOAD) {
        close();
        current = { userId, items: [], sessions: new Set() };
        size = 100;
      }
      current.items.push(text);
      current.sessions.add(event.sessionId);
      size += bytes;
    }
    close();

    // The counters to write: sessions whose seqs only the database knows (the counter is bumped and read back), and
    // locked ones whose writer bumped their counter by other than the number of their events (rare: a replayed write).
    const bumps: { id: string; n: number }[] = [];
    const ends: Record<string, number> = {};
    for (const [id, n] of counts) {
      const counter = this.counters.get(id);
      if (!counter) bumps.push({ id, n });
      else {
        if (n !== counter.bumped) bumps.push({ id, n: n - counter.bumped });
        ends[id] = counter.base + n;
        // What was flushed is counted: a later flush in the same transaction numbers on from there.
        this.counters.set(id, { base: counter.base + n, added: counter.added - n, bumped: 0 });
      }
    }
    const unknown = (ids: string[]) => ids.filter((id) => ends[id] === undefined);
    // The statement's text depends on the number of payloads only (almost always one): see sql.ts.
    const tagged = announced.length
      ? sql`, tagged as (
          update messages m set event_seq = coalesce(x.seq, b.event_seq - x.back)
            from ${recordset(announced, "id uuid, session_id uuid, back int, seq int", "x")}
            left join bumped b on b.id = x.session_id
           where m.id = x.id)`
      : sql``;
    const notifies = payloads.map(({ head, sessions }) => {
      const known = JSON.stringify(
        Object.fromEntries(sessions.flatMap((id) => (id in ends ? [[id, ends[id]]] : []))),
      );
      const rest = unknown(sessions);
      if (rest.length === 0) return sql`pg_notify(${EVENTS_CHANNEL}, ${`${head}${known}}`})`;
      return sql`pg_notify(${EVENTS_CHANNEL}, ${head} || (${known}::jsonb || (select coalesce(jsonb_object_agg(b.id, b.event_seq), '{}')
          from bumped b where b.id = any(${uuids(rest)})))::text || '}')`;
    });
    // Notifications go out in the order of the select list: a session's events split over two payloads stay in order.
    const select = sql`select ${sql.join([...notifies, ...wakeNotify], sql`, `)}`;
    if (bumps.length === 0 && announced.length === 0) {
      await tx.execute(select);
      return;
    }
    await tx.execute(sql`with bumped as (
        update sessions s set event_seq = s.event_seq + v.n
          from ${recordset(bumps, "id uuid, n int")}
         where s.id = v.id
        returning s.id, s.event_seq)${tagged}
      ${select}`);
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
/** Consecutive events of one session from one notification (a message and the session's update), in order. */
export type BatchListener = (events: readonly SessionEvent[], userId: string) => void;

/** A subscriber to one session: its events, and word that some may have been lost (re-read the session then). */
interface SessionListener {
  events: BatchListener;
  lost: () => void;
}

/**
 * One LISTEN per process, fanned out to every local subscriber of a session. When the listener's connection drops,
 * notifications sent meanwhile are gone: once it is back, every session subscriber is told to catch up.
 */
export class EventHub {
  private readonly bySession = new Map<string, Set<SessionListener>>();
  private readonly all = new Set<EventListener>();
  private unlisten: (() => Promise<void>) | undefined;
  private chain: Promise<void> = Promise.resolve();
  private listening = false;

  constructor(
    private readonly db: MimicDb,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  /** Whether notifications arrive: false before start, after stop, and while the listener reconnects. */
  get isListening() {
    return this.listening;
  }

  async start() {
    this.unlisten = await this.db.listen(
      EVENTS_CHANNEL,
      (payload) => {
        // One at a time, in arrival order: a message read back by id must not be overtaken by later events.
        this.chain = this.chain.then(() => this.dispatch(payload)).catch(this.onError);
      },
      {
        onDown: () => {
          this.listening = false;
        },
        onRestored: () => {
          this.listening = true;
          // After the events that did arrive before the drop have been handed out.
          this.chain = this.chain.then(() => {
            for (const set of [...this.bySession.values()]) for (const listener of [...set]) listener.lost();
          });
        },
      },
    );
    this.listening = true;
  }

  async stop() {
    this.listening = false;
    // The database may already be gone (shutdown after an outage): nothing is left to unlisten then.
    await this.unlisten?.().catch(this.onError);
    this.unlisten = undefined;
    this.bySession.clear();
    this.all.clear();
  }

  /**
   * Every event of one session. `onLost`: some may have been lost (the listener was down, or a message could not
   * be read back): re-read the session. Returns the unsubscribe function.
   */
  subscribe(sessionId: string, listener: EventListener, onLost: () => void = () => {}): () => void {
    return this.subscribeBatches(
      sessionId,
      (events, userId) => {
        for (const event of events) listener(event, userId);
      },
      onLost,
    );
  }

  /**
   * As subscribe, with the session's events of one notification handed over together: a subscriber that writes
   * them to a socket can do so in one write rather than one per event.
   */
  subscribeBatches(sessionId: string, listener: BatchListener, onLost: () => void = () => {}): () => void {
    let set = this.bySession.get(sessionId);
    if (!set) {
      set = new Set();
      this.bySession.set(sessionId, set);
    }
    const entry: SessionListener = { events: listener, lost: onLost };
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.bySession.get(sessionId) === set) this.bySession.delete(sessionId);
    };
  }

  /** Every event of every session (the dev transcript printer, adapters closing on session_end). */
  subscribeAll(listener: EventListener): () => void {
    this.all.add(listener);
    return () => this.all.delete(listener);
  }

  /**
   * Hands out one notification. Fan-out goes subscriber by subscriber, each given its session's consecutive events
   * at once: with many subscribers of one session, the first is not kept waiting while the others get the first
   * event, and each gets a single write (see subscribeBatches).
   */
  private async dispatch(payload: string) {
    const envelope = JSON.parse(payload) as Envelope;
    let run: SessionEvent[] = [];
    const handOut = () => {
      if (run.length === 0) return;
      const events = run;
      run = [];
      for (const listener of [...(this.bySession.get(events[0]!.sessionId) ?? [])])
        listener.events(events, envelope.userId);
    };
    for (const item of envelope.events) {
      if (run[0] && run[0].sessionId !== item.sessionId) handOut();
      const end = envelope.ends?.[item.sessionId];
      const seq = end === undefined ? undefined : end - item.back;
      let event: SessionEvent | undefined;
      if ("ref" in item) {
        // What came before it need not wait for the read.
        handOut();
        try {
          const [row] = await this.db.db.select().from(messages).where(eq(messages.id, item.ref));
          if (row) event = { type: "new_message", sessionId: item.sessionId, data: toMessageData(row) };
        } catch (error) {
          // The message is in the table: the session's subscribers read it from there.
          this.onError(error);
          for (const listener of [...(this.bySession.get(item.sessionId) ?? [])]) listener.lost();
          continue;
        }
      } else {
        const { back: _, ...rest } = item;
        event = rest as SessionEvent;
      }
      if (!event) continue;
      if (seq !== undefined) event = withSeq(event, seq);
      for (const listener of this.all) listener(event, envelope.userId);
      run.push(event);
    }
    handOut();
  }
}

/** The event with its seq, placed before `data` (as clients see it). */
export function withSeq(event: SessionEvent, seq: number): SessionEvent {
  return { type: event.type, sessionId: event.sessionId, seq, data: event.data } as SessionEvent;
}

export function toMessageData(row: typeof messages.$inferSelect): MessageData {
  return {
    id: row.id,
    senderType: row.senderType,
    content: row.content,
    timestamp: row.timestamp.toISOString(),
    latencyMs: row.latencyMs,
    // Only when there is some: most messages have none, and events stay as small as the seed's.
    ...(row.metadata ? { metadata: row.metadata as Record<string, unknown> } : {}),
  };
}
