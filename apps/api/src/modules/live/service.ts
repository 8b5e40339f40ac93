// What a live subscriber is sent when it (re)joins a session: the messages announced after the seq it gave, then
// the session's state now — read from the tables, so it does not depend on notifications that may have been lost.
import { type Database, FINISHED_SESSION_STATUSES, messages, type Session, sessions } from "@mimic/db";
import { and, asc, eq, gt, isNull, lte, or, sql } from "drizzle-orm";
import { type SessionEvent, toMessageData, withSeq } from "../../engine/events.js";
import { sessionEndEvent, sessionUpdateData } from "../../engine/session-store.js";

export interface CatchUp {
  /** The session's seq at the time of reading: the snapshot and the end stand for it; live events follow it. */
  seq: number;
  /** New messages after `afterSeq` (none without it), in seq order. */
  messages: SessionEvent[];
  snapshot: SessionEvent;
  /** The session is over and its session_end was sent (a verdict still pending comes later, live). */
  end: SessionEvent | undefined;
}

/** The session is over and announced: a completed or failed session is announced once its verdict is stored. */
export const hasEnded = (session: Session) =>
  (FINISHED_SESSION_STATUSES as readonly string[]).includes(session.status) && !session.verdictPending;

/** Reads the catch-up for `userId`'s session; undefined when it is not theirs (or does not exist). */
export async function readCatchUp(
  db: Database,
  userId: string,
  sessionId: string,
  afterSeq: number | undefined,
): Promise<CatchUp | undefined> {
  const [session] = await db
    .select()
    .from(sessions)
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId)));
  if (!session) return undefined;
  const seq = session.eventSeq;
  let missed: SessionEvent[] = [];
  if (afterSeq !== undefined && afterSeq < seq) {
    // Bounded by the session's seq: what committed after the session row was read comes live.
    const after = and(gt(messages.eventSeq, afterSeq), lte(messages.eventSeq, seq));
    const rows = await db
      .select()
      .from(messages)
      .where(
        and(
          eq(messages.sessionId, sessionId),
          // Messages stored without an event (written straight to the table) belong to a replay from the start.
          afterSeq === 0 ? or(after, isNull(messages.eventSeq)) : after,
        ),
      )
      .orderBy(sql`${messages.eventSeq} nulls first`, asc(messages.timestamp), asc(messages.seq));
    missed = rows.map((row) => {
      const event: SessionEvent = { type: "new_message", sessionId, data: toMessageData(row) };
      return row.eventSeq === null ? event : withSeq(event, row.eventSeq);
    });
  }
  return {
    seq,
    messages: missed,
    snapshot: withSeq({ type: "session_update", sessionId, data: sessionUpdateData(session) }, seq),
    end: hasEnded(session) ? withSeq(sessionEndEvent(session), seq) : undefined,
  };
}
