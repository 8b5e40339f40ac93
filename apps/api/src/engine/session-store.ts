// Every state change of a running session, each in one transaction with the events it causes.
// Writes by the engine are guarded by `status in (pending, active)` and the worker's lease, so a session that
// was stopped, or taken over after a crash, is never written by a worker that lost it.
import {
  agents,
  type Database,
  type Executor,
  type Message,
  messages,
  personas,
  type Session,
  type SessionResult,
  sessions,
} from "@mimic/db";
import { and, asc, count, eq, inArray, isNull, lte, or, sql } from "drizzle-orm";
import { notify, toMessageData, wake } from "./events.js";
import { stableId } from "./ids.js";

const RUNNING = ["pending", "active"] as const;
const COUNTED = ["persona", "agent"] as const;

export async function messageCount(tx: Executor, sessionId: string): Promise<number> {
  const [row] = await tx
    .select({ n: count() })
    .from(messages)
    .where(and(eq(messages.sessionId, sessionId), inArray(messages.senderType, [...COUNTED])));
  return Number(row?.n ?? 0);
}

async function lastMessageAt(tx: Executor, sessionId: string): Promise<string | null> {
  const [row] = await tx
    .select({ at: sql<Date | string | null>`max(${messages.timestamp})` })
    .from(messages)
    .where(eq(messages.sessionId, sessionId));
  return row?.at ? new Date(row.at).toISOString() : null;
}

/** The seed's session_update data: status, message count, time of the last message. */
export async function sessionUpdateData(tx: Executor, session: Pick<Session, "id" | "status">) {
  return {
    status: session.status,
    messageCount: await messageCount(tx, session.id),
    lastMessage: await lastMessageAt(tx, session.id),
  };
}

export async function notifyUpdate(tx: Executor, session: Pick<Session, "id" | "userId" | "status">) {
  await notify(tx, session.userId, {
    type: "session_update",
    sessionId: session.id,
    data: await sessionUpdateData(tx, session),
  });
}

/** Claims up to `limit` due sessions for `owner`: FOR UPDATE SKIP LOCKED, so workers never share one. */
export async function claimDue(
  db: Database,
  owner: string,
  limit: number,
  leaseMs: number,
): Promise<Session[]> {
  if (limit <= 0) return [];
  const due = db
    .select({ id: sessions.id })
    .from(sessions)
    .where(
      and(
        or(inArray(sessions.status, [...RUNNING]), eq(sessions.verdictPending, true)),
        lte(sessions.nextTurnAt, sql`now()`),
        or(isNull(sessions.leaseExpiresAt), lte(sessions.leaseExpiresAt, sql`now()`)),
      ),
    )
    .orderBy(asc(sessions.nextTurnAt))
    .limit(limit)
    .for("update", { skipLocked: true });
  return db
    .update(sessions)
    .set({ leaseOwner: owner, leaseExpiresAt: sql`now() + ${`${leaseMs} milliseconds`}::interval` })
    .where(inArray(sessions.id, due))
    .returning();
}

export async function renewLease(
  db: Database,
  sessionId: string,
  owner: string,
  leaseMs: number,
): Promise<boolean> {
  const rows = await db
    .update(sessions)
    .set({ leaseExpiresAt: sql`now() + ${`${leaseMs} milliseconds`}::interval` })
    .where(
      and(eq(sessions.id, sessionId), eq(sessions.leaseOwner, owner), inArray(sessions.status, [...RUNNING])),
    )
    .returning({ id: sessions.id });
  return rows.length > 0;
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
  persona: typeof personas.$inferSelect;
  agent: typeof agents.$inferSelect;
  transcript: Message[];
}

export async function loadTurnState(
  db: Database,
  sessionId: string,
  owner: string,
): Promise<TurnState | undefined> {
  const [row] = await db
    .select({ session: sessions, persona: personas, agent: agents })
    .from(sessions)
    .innerJoin(personas, eq(personas.id, sessions.personaId))
    .innerJoin(agents, eq(agents.id, sessions.agentId))
    .where(
      and(eq(sessions.id, sessionId), eq(sessions.leaseOwner, owner), inArray(sessions.status, [...RUNNING])),
    );
  if (!row) return undefined;
  const transcript = await db
    .select()
    .from(messages)
    .where(eq(messages.sessionId, sessionId))
    .orderBy(asc(messages.timestamp), asc(messages.seq));
  return { ...row, transcript };
}

/** Locks the session row if this worker still holds it and it is still running. */
async function lockOwned(tx: Executor, sessionId: string, owner: string) {
  const [row] = await tx
    .select()
    .from(sessions)
    .where(
      and(eq(sessions.id, sessionId), eq(sessions.leaseOwner, owner), inArray(sessions.status, [...RUNNING])),
    )
    .for("update");
  return row;
}

export async function activate(db: Database, sessionId: string, owner: string): Promise<Session | undefined> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(sessions)
      .set({ status: "active", startedAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(eq(sessions.id, sessionId), eq(sessions.leaseOwner, owner), eq(sessions.status, "pending")))
      .returning();
    if (row) await notifyUpdate(tx, row);
    return row;
  });
}

async function insertMessage(
  tx: Executor,
  session: Pick<Session, "id" | "userId">,
  values: {
    id: string;
    senderType: "persona" | "agent" | "system";
    content: string;
    turn: number | null;
    latencyMs?: number | null;
    timestamp?: Date;
  },
): Promise<Message | undefined> {
  const [row] = await tx
    .insert(messages)
    .values({ ...values, sessionId: session.id })
    .onConflictDoNothing({ target: messages.id })
    .returning();
  if (row)
    await notify(tx, session.userId, {
      type: "new_message",
      sessionId: session.id,
      data: toMessageData(row),
    });
  return row;
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
  await db.transaction(async (tx) => {
    const session = await lockOwned(tx, sessionId, owner);
    if (!session) return;
    await insertMessage(tx, session, {
      id: stableId(sessionId, key, turn),
      senderType: "system",
      content,
      turn,
    });
  });
}

/**
 * Records the persona's next message and moves the session to `delivering`. The id is derived from the
 * session and turn: a turn replayed after a crash inserts nothing new.
 */
export async function writePersonaMessage(
  db: Database,
  sessionId: string,
  owner: string,
  content: string,
  usage: { promptTokens: number; completionTokens: number } | undefined,
): Promise<Message | undefined> {
  return db.transaction(async (tx) => {
    const session = await lockOwned(tx, sessionId, owner);
    if (!session) return undefined;
    const message = await insertMessage(tx, session, {
      id: stableId(sessionId, "persona", session.turn),
      senderType: "persona",
      content,
      turn: session.turn,
    });
    const [updated] = await tx
      .update(sessions)
      .set({
        turn: session.turn + 1,
        phase: "delivering",
        awaitingSince: message?.timestamp ?? sql`now()`,
        promptTokens: session.promptTokens + (usage?.promptTokens ?? 0),
        completionTokens: session.completionTokens + (usage?.completionTokens ?? 0),
        updatedAt: sql`now()`,
      })
      .where(eq(sessions.id, sessionId))
      .returning();
    await notifyUpdate(tx, updated!);
    return (
      message ??
      (
        await tx
          .select()
          .from(messages)
          .where(eq(messages.id, stableId(sessionId, "persona", session.turn)))
      )[0]
    );
  });
}

/** The next turn is due after `seconds`, but never after the session's end of duration. */
const dueIn = (seconds: number) =>
  sql`least(now() + ${`${Math.round(seconds * 1000)} milliseconds`}::interval, ${sessions.startedAt} + (((${sessions.config}->>'duration')::float8) * interval '1 second'))`;

/**
 * The persona message reached the agent. Synchronous replies are recorded now; if more may come (`open`),
 * the session waits for them until the reply timeout.
 */
export async function completeDelivery(
  db: Database,
  sessionId: string,
  owner: string,
  delivered: Message,
  replies: string[],
  open: boolean,
  /** The persona reached its goal with this message: end the session in the same transaction. */
  goalReached = false,
): Promise<{ session: Session; ended: boolean } | undefined> {
  return db.transaction(async (tx) => {
    const session = await lockOwned(tx, sessionId, owner);
    if (!session) return undefined;
    const turn = delivered.turn ?? session.turn - 1;
    const latencyMs = Math.max(0, Date.now() - delivered.timestamp.getTime());
    for (const [i, content] of replies.entries()) {
      await insertMessage(tx, session, {
        id: stableId(sessionId, "agent", turn, i),
        senderType: "agent",
        content,
        turn,
        latencyMs,
      });
    }
    const waiting = open && replies.length === 0;
    const [updated] = await tx
      .update(sessions)
      .set({
        phase: waiting ? "awaiting_reply" : "idle",
        failures: 0,
        nextTurnAt: waiting ? dueIn(session.config.replyTimeout) : dueIn(session.config.messageInterval),
        leaseOwner: null,
        leaseExpiresAt: null,
        updatedAt: sql`now()`,
      })
      .where(eq(sessions.id, sessionId))
      .returning();
    if (goalReached) {
      return { session: (await endIn(tx, sessionId, "completed", "goal reached"))!, ended: true };
    }
    if ((await messageCount(tx, sessionId)) >= session.config.maxMessages) {
      return { session: (await endIn(tx, sessionId, "completed", "message limit reached"))!, ended: true };
    }
    if (replies.length) await notifyUpdate(tx, updated!);
    return { session: updated!, ended: false };
  });
}

/** Hands the session back without changing its state, due again after `delayMs`. */
export async function releaseLease(
  db: Database,
  sessionId: string,
  owner: string,
  delayMs: number,
  failures?: number,
) {
  await db
    .update(sessions)
    .set({
      leaseOwner: null,
      leaseExpiresAt: null,
      nextTurnAt: sql`now() + ${`${delayMs} milliseconds`}::interval`,
      ...(failures !== undefined ? { failures } : {}),
    })
    .where(and(eq(sessions.id, sessionId), eq(sessions.leaseOwner, owner)));
}

export class SessionNotRunningError extends Error {}
export class MessageIdTakenError extends Error {}

export interface NewMessageInput {
  id?: string | undefined;
  senderType: "persona" | "agent" | "system";
  content: string;
  timestamp?: string | Date | undefined;
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
  options: { requireRunning?: boolean } = {},
): Promise<{ messages: Message[]; created: number }> {
  return db.transaction(async (tx) => {
    const [session] = await tx.select().from(sessions).where(eq(sessions.id, sessionId)).for("update");
    const running = !!session && RUNNING.includes(session.status as (typeof RUNNING)[number]);
    if (!session || (options.requireRunning && !running))
      throw new SessionNotRunningError("the session is not running");
    const waitingFor =
      running && session.awaitingSince && session.phase !== "idle" ? session.awaitingSince : null;
    const out: Message[] = [];
    let created = 0;
    let agentReplied = false;
    for (const item of items) {
      const id = item.id ?? crypto.randomUUID();
      const isLiveReply = item.senderType === "agent" && item.timestamp === undefined;
      const message = await insertMessage(tx, session, {
        id,
        senderType: item.senderType,
        content: item.content,
        turn: running && session.turn > 0 ? session.turn - 1 : null,
        latencyMs: isLiveReply && waitingFor ? Math.max(0, Date.now() - waitingFor.getTime()) : null,
        ...(item.timestamp !== undefined ? { timestamp: new Date(item.timestamp) } : {}),
      });
      if (message) {
        created++;
        if (item.senderType === "agent") agentReplied = true;
        out.push(message);
        continue;
      }
      const [existing] = await tx.select().from(messages).where(eq(messages.id, id));
      if (existing?.sessionId !== sessionId)
        throw new MessageIdTakenError(`message id ${id} is already used`);
      out.push(existing);
    }
    if (agentReplied && running && session.phase === "awaiting_reply") {
      const [updated] = await tx
        .update(sessions)
        .set({ phase: "idle", nextTurnAt: dueIn(session.config.messageInterval), updatedAt: sql`now()` })
        .where(eq(sessions.id, sessionId))
        .returning();
      await notifyUpdate(tx, updated!);
      await wake(tx);
    } else if (created > 0) {
      await notifyUpdate(tx, session);
    }
    return { messages: out, created };
  });
}

export type EndStatus = "completed" | "failed" | "stopped";

/** Ends a running session inside `tx` and announces it. Returns undefined when it was not running (or not ours). */
export async function endIn(
  tx: Executor,
  sessionId: string,
  status: EndStatus,
  reason: string,
  owner?: string,
) {
  const [row] = await tx
    .update(sessions)
    .set({
      status,
      reason,
      endedAt: sql`now()`,
      updatedAt: sql`now()`,
      nextTurnAt: null,
      leaseOwner: null,
      leaseExpiresAt: null,
      phase: "idle",
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
  await notifyUpdate(tx, row);
  if (status === "stopped") {
    // A stopped session gets no verdict: it ends here.
    await notifyEnd(tx, row);
  } else {
    // The engine runs the checks next, then announces session_end with the verdict.
    await tx
      .update(sessions)
      .set({ verdictPending: true, nextTurnAt: sql`now()` })
      .where(eq(sessions.id, sessionId));
    await wake(tx);
  }
  return row;
}

/** The seed's session_end event for an ended session (its verdict included when there is one). */
export async function sessionEndEvent(tx: Executor, row: Session) {
  const started = row.startedAt ?? row.createdAt;
  return {
    type: "session_end" as const,
    sessionId: row.id,
    data: {
      reason: row.reason ?? row.status,
      status: row.status,
      duration: Math.round(((row.endedAt ?? new Date()).getTime() - started.getTime()) / 1000),
      messageCount: await messageCount(tx, row.id),
      ...(row.result ? { result: row.result } : {}),
    },
  };
}

async function notifyEnd(tx: Executor, row: Session) {
  await notify(tx, row.userId, await sessionEndEvent(tx, row));
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
    if (row) await notifyEnd(tx, row);
  });
}

/**
 * Ends a running session with its reason. `owner` limits the change to the worker holding the lease; without
 * it (a user stopping the session, an agent being deleted) any running session ends.
 */
export function finishSession(
  db: Database,
  sessionId: string,
  status: EndStatus,
  reason: string,
  owner?: string,
) {
  return db.transaction((tx) => endIn(tx, sessionId, status, reason, owner));
}
