// Every state change of a running session, each in one transaction with the events it causes (sent with one
// NOTIFY on commit). Writes by the engine are guarded by `status in (pending, active)` and the worker's lease, so
// a session that was stopped, or taken over after a crash, is never written by a worker that lost it.
// Message counts and the last message time live on the session row, kept by a trigger on messages — except on the
// turn's hot path, where the writer counts its messages in the one update of each session it makes anyway.
import {
  agents,
  type Database,
  END_REASON_STATUS,
  type Executor,
  type Message,
  type MessageMetadata,
  messages,
  personas,
  rowsOf,
  type Session,
  type SessionEndReason,
  type SessionResult,
  sessions,
} from "@mimic/db";
import { type AnyColumn, and, asc, eq, getTableColumns, inArray, type SQL, sql } from "drizzle-orm";
import { storable } from "../lib/ajv.js";
import { Outbox, toMessageData } from "./events.js";
import { stableId } from "./ids.js";
import { idIn, recordset } from "./sql.js";

const RUNNING = ["pending", "active"] as const;
const isRunning = (status: Session["status"]) => (RUNNING as readonly string[]).includes(status);

const ms = (value: number) => sql`${`${Math.round(value)} milliseconds`}::interval`;

/** The seed's session_update data, from the session row (counts kept by the database). */
export function sessionUpdateData(session: Pick<Session, "status" | "messageCount" | "lastMessageAt">) {
  return {
    status: session.status,
    messageCount: session.messageCount,
    lastMessage: session.lastMessageAt ? session.lastMessageAt.toISOString() : null,
  };
}

const updateEvent = (session: Pick<Session, "id" | "status" | "messageCount" | "lastMessageAt">) =>
  ({ type: "session_update", sessionId: session.id, data: sessionUpdateData(session) }) as const;

/**
 * What a turn's writes read back of a session: what its session_update event says, and what the turn decides on. Not
 * the whole row: a session's metadata alone may be 16 KiB, parsed for nothing on every turn.
 */
const EVENT_COLUMNS = {
  id: sessions.id,
  userId: sessions.userId,
  status: sessions.status,
  messageCount: sessions.messageCount,
  lastMessageAt: sessions.lastMessageAt,
};
const OUTCOME_COLUMNS = { ...EVENT_COLUMNS, nextTurnAt: sessions.nextTurnAt, config: sessions.config };
type TurnOutcomeSession = Pick<Session, keyof typeof OUTCOME_COLUMNS>;

/** The seed's session_end event for an ended session (its verdict included when there is one). */
export function sessionEndEvent(row: Session) {
  const started = row.startedAt ?? row.createdAt;
  return {
    type: "session_end" as const,
    sessionId: row.id,
    data: {
      reason: row.reason ?? row.status,
      endReason: row.endReason,
      status: row.status,
      duration: Math.round(((row.endedAt ?? new Date()).getTime() - started.getTime()) / 1000),
      messageCount: row.messageCount,
      ...(row.result ? { result: row.result } : {}),
    },
  };
}

/** Announces new sessions (their first session_update) and wakes the runners. */
export async function announceNew(tx: Executor, rows: Session[]) {
  const outbox = new Outbox();
  for (const row of rows) outbox.add(row.userId, updateEvent(row));
  outbox.wake();
  await outbox.flush(tx);
}

/**
 * Claims up to `limit` due sessions for `owner`, in one statement: FOR UPDATE SKIP LOCKED, so workers never share
 * one. No user holds more than `perUser` leases at once (counted across every worker): a user whose bots are slow
 * waits for their own turns, not everyone's. Only the sessions claimed are locked: candidates are picked without
 * locks, so a claim of 200 does not write lock marks on the 800 rows it looked at.
 */
export async function claimDue(
  db: Database,
  owner: string,
  limit: number,
  leaseMs: number,
  perUser: number = Number.POSITIVE_INFINITY,
): Promise<ClaimedSession[]> {
  if (limit <= 0) return [];
  const cap = Number.isFinite(perUser) ? perUser : 2 ** 31 - 1;
  const due = sql`(s.status in ('pending', 'active') or s.verdict_pending)
    and s.next_turn_at <= now() and (s.lease_expires_at is null or s.lease_expires_at <= now())`;
  // Leases are counted among due sessions: a session is due when it is claimed and stays so while it is held (its
  // next turn is scheduled when it is handed back), so the count reads the front of the due index, not every running
  // session. Candidates are read in due order straight from that index (an index scan that stops at the limit, and
  // that marks the entries of dead row versions so that later claims skip them), past the users already at their cap.
  const claimable = sql`
    with busy as (
      select s.user_id, count(*)::int as n from ${sessions} s
      where (s.status in ('pending', 'active') or s.verdict_pending) and s.next_turn_at <= now()
        and s.lease_owner is not null and s.lease_expires_at > now()
      group by 1),
    candidates as materialized (
      select s.id, s.user_id, s.next_turn_at from ${sessions} s
      where ${due} and s.user_id <> all(array(select user_id from busy where n >= ${cap}))
      order by s.next_turn_at limit ${limit * 4}),
    picked as (
      select c.id from (
        select c.*, row_number() over (partition by c.user_id order by c.next_turn_at) as nth from candidates c) c
      left join busy b on b.user_id = c.user_id
      where coalesce(b.n, 0) + c.nth <= ${cap}
      order by c.next_turn_at limit ${limit})
    select s.id from ${sessions} s where s.id in (select id from picked) and ${due}
    for update of s skip locked`;
  return db
    .update(sessions)
    .set({ leaseOwner: owner, leaseExpiresAt: sql`now() + ${ms(leaseMs)}` })
    .where(sql`${sessions.id} in (${claimable})`)
    .returning({
      ...getTableColumns(sessions),
      expired: sql<boolean>`coalesce(now() >= ${sessions.startedAt} + ((${sessions.config}->>'duration')::float8 * interval '1 second'), false)`,
    });
}

export type ClaimedSession = Session & { expired: boolean };

/**
 * How long until the next session falls due, in ms by the database's clock; undefined when none is scheduled. Sessions
 * due already are not counted: they are held by a worker, or wait for their user's turns (the poll takes them).
 * Reads the due index from the current time on.
 */
export async function nextDueInMs(db: Database): Promise<number | undefined> {
  const [row] = rowsOf<{ ms: number | string | null }>(
    await db.execute(sql`
      select extract(epoch from (min(next_turn_at) - now())) * 1000 as ms from ${sessions}
      where (status in ('pending', 'active') or verdict_pending) and next_turn_at > now()`),
  );
  return row?.ms === null || row?.ms === undefined ? undefined : Number(row.ms);
}

const owned = (sessionId: string, owner: string): SQL =>
  and(eq(sessions.id, sessionId), eq(sessions.leaseOwner, owner), inArray(sessions.status, [...RUNNING]))!;

/** Which of `ids` are no longer running (ended, by whoever, or gone). */
export async function notRunning(db: Database, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const running = await db
    .select({ id: sessions.id })
    .from(sessions)
    .where(and(inArray(sessions.id, ids), inArray(sessions.status, [...RUNNING])));
  const alive = new Set(running.map((r) => r.id));
  return ids.filter((id) => !alive.has(id));
}

export async function renewLease(
  db: Database,
  sessionId: string,
  owner: string,
  leaseMs: number,
): Promise<boolean> {
  const rows = await db
    .update(sessions)
    .set({ leaseExpiresAt: sql`now() + ${ms(leaseMs)}` })
    .where(owned(sessionId, owner))
    .returning({ id: sessions.id });
  return rows.length > 0;
}

/** Gives back sessions just claimed, untouched (the runner is stopping). */
export async function releaseClaimed(db: Database, ids: string[], owner: string) {
  if (ids.length === 0) return;
  await db
    .update(sessions)
    .set({ leaseOwner: null, leaseExpiresAt: null })
    .where(and(inArray(sessions.id, ids), eq(sessions.leaseOwner, owner)));
}

/** Gives back every lease this worker holds (graceful shutdown): another worker picks the sessions up at once. */
export async function releaseAll(db: Database, owner: string) {
  await db
    .update(sessions)
    .set({ leaseOwner: null, leaseExpiresAt: null })
    .where(eq(sessions.leaseOwner, owner));
}

export interface TurnState {
  session: Session;
  /** The session's duration is over, by the database's clock (as of the claim). */
  expired: boolean;
  persona: typeof personas.$inferSelect;
  agent: typeof agents.$inferSelect;
}

/** What the turns of the claimed sessions need: their personas and agents, read once for the whole batch. */
export async function loadTurnStates(
  db: Database,
  claimed: ClaimedSession[],
): Promise<Map<string, TurnState>> {
  const states = new Map<string, TurnState>();
  if (claimed.length === 0) return states;
  const personaIds = [...new Set(claimed.map((s) => s.personaId).filter((id): id is string => id !== null))];
  const agentIds = [...new Set(claimed.map((s) => s.agentId).filter((id): id is string => id !== null))];
  const [personaRows, agentRows] = await Promise.all([
    personaIds.length ? db.select().from(personas).where(idIn(personas.id, personaIds)) : [],
    agentIds.length ? db.select().from(agents).where(idIn(agents.id, agentIds)) : [],
  ]);
  const personaById = new Map(personaRows.map((p) => [p.id, p]));
  const agentById = new Map(agentRows.map((a) => [a.id, a]));
  for (const { expired, ...session } of claimed) {
    const persona = session.personaId ? personaById.get(session.personaId) : undefined;
    const agent = session.agentId ? agentById.get(session.agentId) : undefined;
    if (persona && agent) states.set(session.id, { session, expired, persona, agent });
  }
  return states;
}

/** A session's transcript in order (what a persona that reads the conversation needs). */
export function loadTranscript(db: Database, sessionId: string): Promise<Message[]> {
  return db
    .select()
    .from(messages)
    .where(eq(messages.sessionId, sessionId))
    .orderBy(asc(messages.timestamp), asc(messages.seq));
}

/** The persona message of a session's turn (to deliver it again after a crash or a failed attempt). */
export async function loadPersonaMessage(db: Database, sessionId: string, turn: number) {
  const [row] = await db
    .select()
    .from(messages)
    .where(eq(messages.id, stableId(sessionId, "persona", turn)));
  return row;
}

export async function activate(db: Database, sessionId: string, owner: string): Promise<Session | undefined> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(sessions)
      .set({ status: "active", startedAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(eq(sessions.id, sessionId), eq(sessions.leaseOwner, owner), eq(sessions.status, "pending")))
      .returning();
    if (row) {
      const outbox = new Outbox();
      outbox.add(row.userId, updateEvent(row));
      await outbox.flush(tx);
    }
    return row;
  });
}

type MessageValues = {
  id: string;
  senderType: "persona" | "agent" | "system";
  content: string;
  turn: number | null;
  latencyMs?: number | null;
  /** Agent replies: the latency is the time since then, by the database's clock (when latencyMs is not given). */
  latencySince?: Date | null | undefined;
  timestamp?: Date;
  metadata?: MessageMetadata;
  /** The seq of the new_message event that will announce it, when the session's counter is known (Outbox.nextSeq). */
  eventSeq?: number | undefined;
};

/** The message columns an insert fills (seq and search are the database's), as a recordset's column list. */
const MESSAGE_COLUMNS = `id uuid, session_id uuid, sender_type sender_type, content text, turn int, latency_ms int,
  event_seq int, timestamp timestamptz, metadata jsonb`;
const MESSAGE_FIELDS = Object.entries(getTableColumns(messages));
/**
 * What an insert reads back: every column but the search vector, which nothing in a turn reads (and whose text form
 * is longer than the message). Rows read back this way have `search` null.
 */
const RETURNED_COLUMNS = MESSAGE_FIELDS.filter(([key]) => key !== "search")
  .map(([, column]) => `"${column.name}"`)
  .join(", ");

/** A messages row as the driver returned it, mapped as Drizzle maps what it reads (camelCase keys, Dates, numbers). */
function toMessage(raw: Record<string, unknown>): Message {
  const row: Record<string, unknown> = {};
  for (const [key, column] of MESSAGE_FIELDS) {
    const value = raw[column.name];
    row[key] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as Message;
}

/**
 * Inserts messages, of one session or of many, in one statement whose text is the same whatever their number (the
 * rows travel as one JSON parameter, so the statement is prepared once per connection); ids already stored are
 * skipped. Returns the new rows in transcript order.
 *
 * The sessions' message counts are kept by a trigger on messages, unless `counted`: the caller then adds the rows
 * returned to the counts itself, in the update of the sessions it makes anyway (one row version per session rather
 * than two). The statement says so to the trigger through a transaction-local setting, which the trigger clears.
 */
async function insertRows(
  tx: Executor,
  values: (MessageValues & { sessionId: string })[],
  { counted = false } = {},
): Promise<Message[]> {
  if (values.length === 0) return [];
  const items = values.map((v, n) => ({
    n,
    id: v.id,
    session_id: v.sessionId,
    sender_type: v.senderType,
    content: storable(v.content),
    turn: v.turn,
    latency_ms: v.latencyMs ?? null,
    since: v.latencySince?.toISOString() ?? null,
    event_seq: v.eventSeq ?? null,
    timestamp: v.timestamp ? v.timestamp.toISOString() : null,
    metadata: v.metadata ?? null,
  }));
  const rows = rowsOf<Record<string, unknown>>(
    await tx.execute(sql`
      ${counted ? sql`with counting as (select set_config('mimic.counted', 'on', true))` : sql``}
      insert into ${messages} (id, session_id, sender_type, content, turn, latency_ms, event_seq, timestamp, metadata)
      select v.id, v.session_id, v.sender_type, v.content, v.turn,
        coalesce(v.latency_ms,
          case when v.since is not null then greatest(0, round(extract(epoch from (now() - v.since)) * 1000))::int end),
        v.event_seq, coalesce(v.timestamp, now()), v.metadata
      from ${recordset(items, `${MESSAGE_COLUMNS}, since timestamptz, n int`)}
      ${counted ? sql`cross join counting` : sql``}
      order by v.n -- the order given: seq breaks ties between equal timestamps in it
      on conflict (id) do nothing
      returning ${sql.raw(RETURNED_COLUMNS)}`),
  ).map(toMessage);
  return rows.sort((a, b) => a.timestamp.getTime() - b.timestamp.getTime() || a.seq - b.seq);
}

function announceMessages(outbox: Outbox, userId: string, rows: Message[]) {
  for (const row of rows)
    outbox.add(
      userId,
      { type: "new_message", sessionId: row.sessionId, data: toMessageData(row) },
      row.eventSeq,
    );
}

/** Inserts messages and queues their new_message events. */
async function insertMessages(
  tx: Executor,
  session: Pick<Session, "id" | "userId">,
  values: MessageValues[],
  outbox: Outbox,
) {
  const rows = await insertRows(
    tx,
    values.map((v) => ({ ...v, sessionId: session.id })),
  );
  announceMessages(outbox, session.userId, rows);
  return rows;
}

class NotOurs extends Error {}

/** A transaction that rolls back, returning undefined, when the session turned out not to be ours any more. */
async function ifOurs<T>(
  db: Database,
  work: (tx: Executor, outbox: Outbox) => Promise<T>,
): Promise<T | undefined> {
  try {
    return await db.transaction(async (tx) => {
      const outbox = new Outbox();
      const result = await work(tx, outbox);
      await outbox.flush(tx);
      return result;
    });
  } catch (error) {
    if (error instanceof NotOurs) return undefined;
    throw error;
  }
}

/**
 * A reply has begun but is not complete yet (a voice bot started speaking): the wait for it starts over, so
 * `replyTimeout` bounds the time to the bot's first audio rather than to the end of its sentence.
 */
export async function extendReplyWindow(db: Database, sessionId: string) {
  await db
    .update(sessions)
    .set({ nextTurnAt: sql`greatest(${sessions.nextTurnAt}, ${dueIn("replyTimeout")})` })
    .where(
      and(eq(sessions.id, sessionId), eq(sessions.status, "active"), eq(sessions.phase, "awaiting_reply")),
    );
}

/** A system note in the transcript (no reply within the timeout …), written once per turn. */
export async function writeSystemNote(
  db: Database,
  sessionId: string,
  owner: string,
  turn: number,
  key: string,
  content: string,
) {
  await ifOurs(db, async (tx, outbox) => {
    const [session] = await tx
      .update(sessions)
      .set({ updatedAt: sql`now()` })
      .where(owned(sessionId, owner))
      .returning();
    if (!session) throw new NotOurs();
    outbox.locked(session.id, session.eventSeq);
    await insertMessages(
      tx,
      session,
      [
        {
          id: stableId(sessionId, key, turn),
          senderType: "system",
          content,
          turn,
          eventSeq: outbox.nextSeq(session.id),
        },
      ],
      outbox,
    );
  });
}

const configSeconds = (field: "messageInterval" | "replyTimeout") =>
  sql`((${sessions.config}->>${field})::float8 * interval '1 second')`;
const endOfDuration = sql`${sessions.startedAt} + (((${sessions.config}->>'duration')::float8) * interval '1 second')`;

/** The next turn is due after `seconds` (a number, or the session config's field), never after the end of duration. */
const dueIn = (seconds: number | "replyTimeout") => {
  const after = typeof seconds === "number" ? ms(seconds * 1000) : configSeconds(seconds);
  return sql`least(now() + ${after}, ${endOfDuration})`;
};

/**
 * The persona's next message, once the bot has answered: `messageInterval` is the time between the persona's
 * messages, so it falls due that long after `previous` (when the previous one was due, or written), at once when the
 * bot took longer than that to answer, and never after the end of duration. A late turn does not push back the
 * ones after it.
 */
const nextPersonaTurn = (previous: SQL | AnyColumn) =>
  sql`least(greatest(now(), ${previous} + ${configSeconds("messageInterval")}), ${endOfDuration})`;

/**
 * Sessions of `ids` this worker holds, locked in id order (a fixed order: writers of many rows cannot deadlock), with
 * their event counters handed to the outbox.
 */
async function lockOwned(
  tx: Executor,
  ids: string[],
  owner: string,
  outbox: Outbox,
): Promise<Map<string, { turn: number }>> {
  const rows = await tx
    .select({ id: sessions.id, eventSeq: sessions.eventSeq, turn: sessions.turn })
    .from(sessions)
    .where(
      and(idIn(sessions.id, ids), eq(sessions.leaseOwner, owner), inArray(sessions.status, [...RUNNING])),
    )
    .orderBy(asc(sessions.id))
    .for("update");
  for (const row of rows) outbox.locked(row.id, row.eventSeq);
  return new Map(rows.map((r) => [r.id, { turn: r.turn }]));
}

export interface PersonaWrite {
  sessionId: string;
  content: string;
  usage?: { promptTokens: number; completionTokens: number } | undefined;
}

/**
 * Records each session's next persona message and moves it to `delivering` (lease renewed), for many sessions in
 * one transaction. The id is derived from the session and turn: a turn replayed after a crash inserts nothing new.
 * A session that is no longer this worker's gets `undefined` and nothing is written for it.
 */
export async function writePersonaMessages(
  db: Database,
  owner: string,
  writes: PersonaWrite[],
  leaseMs: number,
): Promise<(Message | undefined)[]> {
  if (writes.length === 0) return [];
  return db.transaction(async (tx) => {
    const outbox = new Outbox();
    const ours = await lockOwned(
      tx,
      writes.map((w) => w.sessionId),
      owner,
      outbox,
    );
    const mine = writes.filter((w) => ours.has(w.sessionId));
    if (mine.length === 0) return writes.map(() => undefined);
    // Inserted first (the turn is known from the lock), counted in the one update of each session that follows.
    const values = mine.map((w) => {
      const turn = ours.get(w.sessionId)!.turn;
      return {
        id: stableId(w.sessionId, "persona", turn),
        sessionId: w.sessionId,
        senderType: "persona" as const,
        content: w.content,
        turn,
        eventSeq: outbox.nextSeq(w.sessionId),
      };
    });
    const inserted = await insertRows(tx, values, { counted: true });
    const stored = new Map(inserted.map((m) => [m.sessionId, m]));
    const fresh = new Set(inserted.map((m) => m.id));
    const changes = mine.map((w) => {
      const row = stored.get(w.sessionId);
      // Its new_message (when the message is new) and its session_update.
      const events = row ? 2 : 1;
      outbox.bumped(w.sessionId, events);
      return {
        id: w.sessionId,
        pt: w.usage?.promptTokens ?? 0,
        ct: w.usage?.completionTokens ?? 0,
        added: row ? 1 : 0,
        last: row ? row.timestamp.toISOString() : null,
        events,
      };
    });
    // now() is the transaction's time: awaitingSince equals the message's timestamp.
    const updated = await tx
      .update(sessions)
      .set({
        turn: sql`${sessions.turn} + 1`,
        phase: "delivering",
        awaitingSince: sql`now()`,
        leaseExpiresAt: sql`now() + ${ms(leaseMs)}`,
        promptTokens: sql`${sessions.promptTokens} + v.pt`,
        completionTokens: sql`${sessions.completionTokens} + v.ct`,
        messageCount: sql`${sessions.messageCount} + v.added`,
        lastMessageAt: sql`greatest(${sessions.lastMessageAt}, v.last)`,
        eventSeq: sql`${sessions.eventSeq} + v.events`,
        updatedAt: sql`now()`,
      })
      .from(recordset(changes, "id uuid, pt int, ct int, added int, last timestamptz, events int"))
      .where(sql`${sessions.id} = v.id`)
      .returning(EVENT_COLUMNS);
    const replayed = values.filter((v) => !stored.has(v.sessionId)).map((v) => v.id);
    if (replayed.length)
      for (const m of await tx.select().from(messages).where(inArray(messages.id, replayed)))
        stored.set(m.sessionId, m);
    const bySession = new Map<string, Message>();
    for (const session of updated) {
      const message = stored.get(session.id)!;
      if (fresh.has(message.id)) announceMessages(outbox, session.userId, [message]);
      outbox.add(session.userId, updateEvent(session));
      bySession.set(session.id, message);
    }
    await outbox.flush(tx);
    return writes.map((w) => bySession.get(w.sessionId));
  });
}

/** Records the persona's next message of one session (see writePersonaMessages). */
export async function writePersonaMessage(
  db: Database,
  sessionId: string,
  owner: string,
  content: string,
  usage: { promptTokens: number; completionTokens: number } | undefined,
  leaseMs: number,
): Promise<Message | undefined> {
  const [message] = await writePersonaMessages(db, owner, [{ sessionId, content, usage }], leaseMs);
  return message;
}

export interface Delivery {
  sessionId: string;
  /** The persona message the agent received. */
  delivered: Message;
  /** Its synchronous replies. */
  replies: string[];
  /** More replies may come (a WebSocket, an asynchronous webhook): wait for them until replyTimeout. */
  open: boolean;
  /** The persona reached its goal with this message: end the session in the same transaction. */
  goalReached?: boolean | undefined;
  /** The persona gave up with this message (the reason): end the session in the same transaction. */
  giveUp?: string | undefined;
}

export type DeliveryOutcome = { session: TurnOutcomeSession; ended: boolean } | undefined;

/**
 * Persona messages reached their agents, for many sessions in one transaction. Synchronous replies are recorded
 * now; a session that may get more (`open`) waits for them until the reply timeout — unless its agent already
 * answered while the message was being delivered. Ends a session when a limit or the goal is reached. A session
 * that is no longer this worker's gets `undefined` and nothing is written for it.
 */
export async function completeDeliveries(
  db: Database,
  owner: string,
  deliveries: Delivery[],
): Promise<DeliveryOutcome[]> {
  if (deliveries.length === 0) return [];
  return db.transaction(async (tx) => {
    const outbox = new Outbox();
    // Locked first. A bot may answer while its message is still being delivered: that reply (appendMessages, which
    // takes the same lock) is then either committed and found below, or waits and finds the session awaiting it.
    const ours = await lockOwned(
      tx,
      deliveries.map((d) => d.sessionId),
      owner,
      outbox,
    );
    const mine = deliveries.filter((d) => ours.has(d.sessionId));
    if (mine.length === 0) return deliveries.map(() => undefined);
    const replyRows = mine.flatMap((d) => {
      const turn = d.delivered.turn ?? 0;
      return d.replies.map((content, i) => ({
        id: stableId(d.sessionId, "agent", turn, i),
        sessionId: d.sessionId,
        senderType: "agent" as const,
        content,
        turn,
        // The database's clock, like the persona message's timestamp it is measured from.
        latencySince: d.delivered.timestamp,
        eventSeq: outbox.nextSeq(d.sessionId, i),
      }));
    });
    // In transcript order, by session (Map.groupBy needs Node 21).
    const repliesBySession = new Map<string, Message[]>();
    for (const m of await insertRows(tx, replyRows, { counted: true }))
      repliesBySession.set(m.sessionId, [...(repliesBySession.get(m.sessionId) ?? []), m]);
    const asking = mine
      .filter((d) => d.open && d.replies.length === 0)
      .map((d) => ({ id: d.sessionId, turn: d.delivered.turn ?? 0 }));
    const answeredEarly = new Set<string>();
    if (asking.length) {
      const rows = await tx
        .selectDistinct({ id: messages.sessionId })
        .from(messages)
        .innerJoin(
          recordset(asking, "id uuid, turn int"),
          sql`${messages.sessionId} = v.id and ${messages.turn} = v.turn`,
        )
        .where(eq(messages.senderType, "agent"));
      for (const r of rows) answeredEarly.add(r.id);
    }
    const waiting = mine
      .filter((d) => d.open && d.replies.length === 0 && !answeredEarly.has(d.sessionId))
      .map((d) => d.sessionId);
    const isWaiting = new Set(waiting);
    // One update per session: its phase and next turn, the replies counted, its events numbered (each reply's
    // new_message, then a session_update when there were replies).
    const changes = mine.map((d) => {
      const rows = repliesBySession.get(d.sessionId) ?? [];
      const events = rows.length + (rows.length ? 1 : 0);
      outbox.bumped(d.sessionId, events);
      return {
        id: d.sessionId,
        waiting: isWaiting.has(d.sessionId),
        added: rows.length,
        last: rows.length ? rows[rows.length - 1]!.timestamp.toISOString() : null,
        events,
      };
    });
    const updated = await tx
      .update(sessions)
      .set({
        phase: sql`case when v.waiting then 'awaiting_reply' else 'idle' end::session_phase`,
        failures: 0,
        leaseOwner: null,
        leaseExpiresAt: null,
        // A session handed back is still due at its claimed turn's time: the next one is counted from there.
        nextTurnAt: sql`case when v.waiting then ${dueIn("replyTimeout")} else ${nextPersonaTurn(sessions.nextTurnAt)} end`,
        messageCount: sql`${sessions.messageCount} + v.added`,
        lastMessageAt: sql`greatest(${sessions.lastMessageAt}, v.last)`,
        eventSeq: sql`${sessions.eventSeq} + v.events`,
        updatedAt: sql`now()`,
      })
      .from(recordset(changes, "id uuid, waiting boolean, added int, last timestamptz, events int"))
      .where(sql`${sessions.id} = v.id`)
      .returning(OUTCOME_COLUMNS);
    const byId = new Map(updated.map((s) => [s.id, s]));
    const outcomes = new Map<string, DeliveryOutcome>();
    for (const d of mine) {
      const session = byId.get(d.sessionId)!;
      const rows = repliesBySession.get(d.sessionId) ?? [];
      announceMessages(outbox, session.userId, rows);
      const end: SessionEnd | undefined = d.giveUp
        ? { reason: "persona_gave_up", detail: `persona gave up: ${d.giveUp}` }
        : d.goalReached
          ? { reason: "goal_reached", detail: "goal reached" }
          : session.messageCount >= session.config.maxMessages
            ? { reason: "message_limit", detail: "message limit reached" }
            : undefined;
      if (end) {
        const ended = await endIn(tx, d.sessionId, end, undefined, outbox);
        outcomes.set(d.sessionId, { session: ended ?? session, ended: true });
        continue;
      }
      if (rows.length) outbox.add(session.userId, updateEvent(session));
      outcomes.set(d.sessionId, { session, ended: false });
    }
    await outbox.flush(tx);
    return deliveries.map((d) => outcomes.get(d.sessionId));
  });
}

/** A persona message of one session reached its agent (see completeDeliveries). */
export async function completeDelivery(
  db: Database,
  sessionId: string,
  owner: string,
  delivered: Message,
  replies: string[],
  open: boolean,
  goalReached = false,
  giveUp?: string,
): Promise<DeliveryOutcome> {
  const [outcome] = await completeDeliveries(db, owner, [
    { sessionId, delivered, replies, open, goalReached, giveUp },
  ]);
  return outcome;
}

/**
 * The agent just got connected: wait up to `seconds` for it to speak first. Its greeting (recorded by
 * appendMessages) schedules the persona's first message; without one, the persona starts when the wait ends.
 */
export async function awaitGreeting(db: Database, sessionId: string, owner: string, seconds: number) {
  await db
    .update(sessions)
    .set({
      phase: "awaiting_reply",
      awaitingSince: sql`now()`,
      nextTurnAt: dueIn(seconds),
      leaseOwner: null,
      leaseExpiresAt: null,
      updatedAt: sql`now()`,
    })
    .where(owned(sessionId, owner));
}

/** Hands sessions back without changing their state, due again after `delayMs` (a retry, a turn that failed midway). */
export async function releaseLease(
  db: Database,
  sessionIds: string[],
  owner: string,
  delayMs: number,
  failures?: number,
) {
  await db
    .update(sessions)
    .set({
      leaseOwner: null,
      leaseExpiresAt: null,
      nextTurnAt: sql`now() + ${ms(delayMs)}`,
      ...(failures !== undefined ? { failures } : {}),
    })
    .where(and(inArray(sessions.id, sessionIds), eq(sessions.leaseOwner, owner)));
}

/** The note recorded, once per session, when an agent sends more than the session's maxMessages allows. */
export const overLimitNote = (maxMessages: number) =>
  `The agent sent more than maxMessages (${maxMessages}) allows; further agent messages were not recorded.`;

export class SessionNotRunningError extends Error {}
/** Live agent replies beyond the session's maxMessages (an HTTP caller gets a 409; nothing is written). */
export class MessageLimitError extends Error {}
export class MessageIdTakenError extends Error {}

export interface NewMessageInput {
  id?: string | undefined;
  senderType: "persona" | "agent" | "system";
  content: string;
  timestamp?: string | Date | undefined;
  /** Channel detail, stored with the message and carried by its new_message event (engine channels only). */
  metadata?: MessageMetadata | undefined;
  /** A live reply's latency as the channel measured it (a voice bot's first audio), instead of arrival time. */
  latencyMs?: number | undefined;
  /**
   * Whether an agent message answers the persona's turn (latency, next turn scheduled). Default: agent messages
   * without a `timestamp` do. A channel that timestamps what it heard says so itself.
   */
  reply?: boolean | undefined;
}

/**
 * Appends messages to a session in one transaction (all or nothing), each announced as new_message. A client id
 * already stored in this session is skipped (idempotent); one stored in another session fails the whole call.
 * Agent messages to a running session that waits for replies get a latency and schedule the persona's next
 * message: this is how asynchronous webhook replies and WebSocket frames enter the engine.
 */
export async function appendMessages(
  db: Database,
  sessionId: string,
  items: NewMessageInput[],
  options: {
    requireRunning?: boolean;
    /**
     * What to do with live agent replies beyond the session's maxMessages: `reject` the call (an HTTP caller), or
     * `drop` the extra ones with one system note per session (frames a WebSocket bot floods in).
     */
    overLimit?: "reject" | "drop";
  } = {},
): Promise<{ messages: Message[]; created: number }> {
  return db.transaction(async (tx) => {
    const outbox = new Outbox();
    const [session] = await tx.select().from(sessions).where(eq(sessions.id, sessionId)).for("update");
    const running = !!session && isRunning(session.status);
    if (!session || (options.requireRunning && !running))
      throw new SessionNotRunningError("the session is not running");
    outbox.locked(session.id, session.eventSeq);
    const waitingFor =
      running && session.awaitingSince && session.phase !== "idle" ? session.awaitingSince : null;
    const isLiveReply = (item: NewMessageInput) =>
      item.senderType === "agent" && (item.reply ?? item.timestamp === undefined);
    let accepted = items;
    const room = session.config.maxMessages - session.messageCount;
    const live = running ? items.filter(isLiveReply).length : 0;
    let dropped = 0;
    if (running && live > Math.max(0, room)) {
      if (options.overLimit === "reject")
        throw new MessageLimitError(`reached its message limit (${session.config.maxMessages})`);
      if (options.overLimit === "drop") {
        let left = Math.max(0, room);
        accepted = items.filter((item) => !isLiveReply(item) || left-- > 0);
        dropped = items.length - accepted.length;
      }
    }
    const values: MessageValues[] = accepted.map((item, i) => ({
      id: item.id ?? crypto.randomUUID(),
      // Right when the messages are announced in the order given (no client timestamps reorder them).
      eventSeq: outbox.nextSeq(session.id, i),
      senderType: item.senderType,
      content: item.content,
      // An agent message that does not answer (a voice bot still finishing its greeting) belongs to no turn.
      turn:
        running && session.turn > 0 && !(item.senderType === "agent" && item.reply === false)
          ? session.turn - 1
          : null,
      // The database's clock: the reply's time and the persona message's time come from the same place.
      ...(isLiveReply(item) && waitingFor
        ? { latencyMs: item.latencyMs ?? null, latencySince: waitingFor }
        : { latencyMs: null }),
      ...(item.metadata ? { metadata: item.metadata } : {}),
      // Items of one call keep their order even within the same millisecond (seq breaks ties).
      ...(item.timestamp !== undefined ? { timestamp: new Date(item.timestamp) } : {}),
    }));
    if (dropped > 0) {
      values.push({
        id: stableId(sessionId, "over-limit", 0),
        senderType: "system",
        content: overLimitNote(session.config.maxMessages),
        turn: null,
        eventSeq: outbox.nextSeq(session.id, values.length),
      });
    }
    const inserted = await insertMessages(tx, session, values, outbox);
    const byId = new Map(inserted.map((m) => [m.id, m]));
    const missing = values.filter((v) => !byId.has(v.id)).map((v) => v.id);
    if (missing.length) {
      for (const existing of await tx.select().from(messages).where(inArray(messages.id, missing))) {
        if (existing.sessionId !== sessionId)
          throw new MessageIdTakenError(`message id ${existing.id} is already used`);
        byId.set(existing.id, existing);
      }
    }
    const agentReplied = inserted.some((m) => m.senderType === "agent");
    let fresh: Session | undefined;
    if (agentReplied && running && session.phase === "awaiting_reply") {
      [fresh] = await tx
        .update(sessions)
        // Counted from the persona's message (awaitingSince): its due time was replaced by the wait for this reply.
        .set({ phase: "idle", nextTurnAt: nextPersonaTurn(sessions.awaitingSince), updatedAt: sql`now()` })
        .where(eq(sessions.id, sessionId))
        .returning();
      outbox.wake();
    } else if (inserted.length > 0) {
      [fresh] = await tx.select().from(sessions).where(eq(sessions.id, sessionId));
    }
    if (fresh) outbox.add(fresh.userId, updateEvent(fresh));
    await outbox.flush(tx);
    return { messages: values.map((v) => byId.get(v.id)!), created: inserted.length };
  });
}

/**
 * Records one message a channel heard from the bot (or a finding about it) in a running session, through the reply
 * path (latency, the persona's next turn, maxMessages, new_message), with `also` in the same transaction. Returns
 * false when nothing was recorded: the session ended meanwhile, or a reply was past maxMessages (dropped, noted once).
 */
export async function recordLive(
  db: Database,
  sessionId: string,
  item: NewMessageInput,
  also?: (tx: Executor) => Promise<unknown>,
): Promise<boolean> {
  try {
    return await db.transaction(async (tx) => {
      const { created } = await appendMessages(tx as unknown as Database, sessionId, [item], {
        requireRunning: true,
        overLimit: "drop",
      });
      if (created === 0) return false;
      await also?.(tx);
      return true;
    });
  } catch (error) {
    if (error instanceof SessionNotRunningError) return false;
    throw error;
  }
}

/** How a session ends: the reason as data (it decides the status), and a detail people read. */
export interface SessionEnd {
  reason: SessionEndReason;
  detail: string;
}

/**
 * Ends a running session inside `tx` and queues its events. Completed and failed sessions are then judged by
 * the engine, which announces session_end with the verdict; a stopped session gets no verdict and ends here.
 * Returns undefined when it was not running (or, with `owner`, not ours).
 */
export async function endIn(
  tx: Executor,
  sessionId: string,
  end: SessionEnd,
  owner?: string,
  outbox?: Outbox,
) {
  const status = END_REASON_STATUS[end.reason];
  const judged = status !== "stopped";
  const [row] = await tx
    .update(sessions)
    .set({
      status,
      endReason: end.reason,
      reason: end.detail,
      endedAt: sql`now()`,
      updatedAt: sql`now()`,
      leaseOwner: null,
      leaseExpiresAt: null,
      phase: "idle",
      verdictPending: judged,
      nextTurnAt: judged ? sql`now()` : null,
    })
    .where(
      and(
        eq(sessions.id, sessionId),
        inArray(sessions.status, [...RUNNING]),
        owner ? eq(sessions.leaseOwner, owner) : undefined,
      ),
    )
    .returning();
  if (!row) return undefined;
  const box = outbox ?? new Outbox();
  box.add(row.userId, updateEvent(row));
  if (judged) box.wake();
  else box.add(row.userId, sessionEndEvent(row));
  if (!outbox) await box.flush(tx);
  return row;
}

/**
 * Ends a running session for `end`. `owner` limits the change to the worker holding the lease; without
 * it (a user stopping the session, an agent being deleted) any running session ends.
 */
export function finishSession(db: Database, sessionId: string, end: SessionEnd, owner?: string) {
  return db.transaction((tx) => endIn(tx, sessionId, end, owner));
}

/** Stores the verdict of an ended session and announces session_end with it. */
export async function completeVerdict(db: Database, sessionId: string, owner: string, result: SessionResult) {
  await db.transaction(async (tx) => {
    const [row] = await tx
      .update(sessions)
      .set({
        result,
        verdictPending: false,
        nextTurnAt: null,
        leaseOwner: null,
        leaseExpiresAt: null,
        updatedAt: sql`now()`,
      })
      .where(
        and(eq(sessions.id, sessionId), eq(sessions.leaseOwner, owner), eq(sessions.verdictPending, true)),
      )
      .returning();
    if (!row) return;
    const outbox = new Outbox();
    outbox.add(row.userId, sessionEndEvent(row));
    await outbox.flush(tx);
  });
}
