// Analytics in SQL: each figure family is one query over indexed columns (sessions by owner/agent and creation
// time; messages by session), never a loop over rows in JavaScript. Message counts come from
// sessions.message_count, which a trigger keeps as messages are written.
import { agents, type Database, messages, rowsOf, type SessionEndReason, sessions } from "@mimic/db";
import { and, eq, gte, lt, type SQL, sql } from "drizzle-orm";
import { notFound, validationError } from "../../errors.js";
import { oneDecimal } from "../../lib/numbers.js";
import { UUID_RE } from "../../lib/schemas.js";

const MAX_RANGE_DAYS = 366;
const DAY_MS = 86_400_000;

export interface DateRange {
  startDate: string;
  endDate: string;
  from: Date;
  /** Exclusive: the day after endDate. */
  to: Date;
}

/**
 * The days a range may cover. PostgreSQL has no year 0, and the exclusive end (endDate + 1 day) must still be a
 * four-digit year, as JavaScript writes dates for the driver.
 */
const FIRST_DAY = "1970-01-01";
const LAST_DAY = "9999-12-30";

function dayMs(field: string, day: string) {
  const ms = Date.parse(`${day}T00:00:00Z`);
  if (Number.isNaN(ms)) throw validationError(field, "must be a date (YYYY-MM-DD)");
  if (day < FIRST_DAY || day > LAST_DAY)
    throw validationError(field, `must be between ${FIRST_DAY} and ${LAST_DAY}`);
  return ms;
}

/** UTC days; defaults to the last 30 days; start ≤ end; at most a year. */
export function dateRange(startDate?: string, endDate?: string): DateRange {
  const end = endDate ?? new Date().toISOString().slice(0, 10);
  const endMs = dayMs("endDate", end);
  // A default start before 1970 (endDate in January 1970) starts at the first day instead.
  const start = startDate ?? new Date(Math.max(endMs - 29 * DAY_MS, 0)).toISOString().slice(0, 10);
  const startMs = dayMs("startDate", start);
  if (startMs > endMs) throw validationError("startDate", "must not be after endDate");
  if ((endMs - startMs) / DAY_MS + 1 > MAX_RANGE_DAYS)
    throw validationError("endDate", `the range may span at most ${MAX_RANGE_DAYS} days`);
  return { startDate: start, endDate: end, from: new Date(startMs), to: new Date(endMs + DAY_MS) };
}

const round = (v: unknown) => (v === null || v === undefined ? null : Math.round(Number(v)));
const ratio = (passed: number, judged: number) =>
  judged > 0 ? Math.round((passed / judged) * 10_000) / 10_000 : null;

async function totals(db: Database, scope: SQL) {
  const [row] = rowsOf<Record<string, number | null>>(
    await db.execute(sql`
      select count(*)::int as total,
             count(*) filter (where ${sessions.status} in ('pending', 'active'))::int as active,
             count(*) filter (where ${sessions.status} = 'completed')::int as completed,
             count(*) filter (where ${sessions.status} = 'failed')::int as failed,
             count(*) filter (where ${sessions.status} = 'stopped')::int as stopped,
             avg(extract(epoch from ${sessions.endedAt} - coalesce(${sessions.startedAt}, ${sessions.createdAt})))
               filter (where ${sessions.endedAt} is not null) as avg_duration,
             count(*) filter (where ${sessions.result} is not null)::int as judged,
             count(*) filter (where (${sessions.result}->>'passed')::boolean)::int as passed,
             coalesce(sum(${sessions.messageCount}), 0)::int as messages
      from ${sessions} where ${scope}`),
  );
  return row!;
}

async function daily(db: Database, scope: SQL, range: DateRange) {
  return rowsOf<{ date: string; sessions: number; messages: number; avg_duration: number | null }>(
    await db.execute(sql`
      with days as (
        select generate_series(${range.startDate}::date, ${range.endDate}::date, interval '1 day')::date as day
      ),
      per_session as (
        select (${sessions.createdAt} at time zone 'UTC')::date as day,
               extract(epoch from ${sessions.endedAt} - coalesce(${sessions.startedAt}, ${sessions.createdAt})) as duration,
               ${sessions.messageCount} as messages
        from ${sessions} where ${scope}
      )
      select to_char(days.day, 'YYYY-MM-DD') as date,
             count(per_session.day)::int as sessions,
             coalesce(sum(per_session.messages), 0)::int as messages,
             avg(per_session.duration) as avg_duration
      from days left join per_session on per_session.day = days.day
      group by days.day order by days.day`),
  ).map((d) => ({
    date: d.date,
    sessions: Number(d.sessions),
    messages: Number(d.messages),
    avgDuration: round(d.avg_duration),
  }));
}

function rangeScope(range: DateRange, ...more: (SQL | undefined)[]): SQL {
  return and(gte(sessions.createdAt, range.from), lt(sessions.createdAt, range.to), ...more)!;
}

export async function sessionAnalytics(
  db: Database,
  userId: string,
  query: {
    startDate?: string | undefined;
    endDate?: string | undefined;
    agentId?: string | undefined;
    personaId?: string | undefined;
  },
) {
  const range = dateRange(query.startDate, query.endDate);
  // An id that cannot exist matches nothing (zeros), like any other unknown id.
  const impossible = [query.agentId, query.personaId].some((id) => id !== undefined && !UUID_RE.test(id));
  const scope = rangeScope(
    range,
    eq(sessions.userId, userId),
    impossible ? sql`false` : undefined,
    query.agentId && !impossible ? eq(sessions.agentId, query.agentId) : undefined,
    query.personaId && !impossible ? eq(sessions.personaId, query.personaId) : undefined,
  );
  const [t, days] = await Promise.all([totals(db, scope), daily(db, scope, range)]);
  return {
    totalSessions: Number(t.total),
    activeSessions: Number(t.active),
    completedSessions: Number(t.completed),
    failedSessions: Number(t.failed),
    averageDuration: round(t.avg_duration),
    totalMessages: Number(t.messages),
    successRate: ratio(Number(t.passed), Number(t.judged)),
    dailyStats: days,
  };
}

export async function agentAnalytics(
  db: Database,
  userId: string,
  agentId: string,
  query: { startDate?: string | undefined; endDate?: string | undefined },
) {
  const range = dateRange(query.startDate, query.endDate);
  if (!UUID_RE.test(agentId)) throw notFound("Agent");
  // Deleted agents keep their history: they are still found here.
  const [agent] = await db
    .select()
    .from(agents)
    .where(and(eq(agents.id, agentId), eq(agents.userId, userId)));
  if (!agent) throw notFound("Agent");
  const scope = rangeScope(range, eq(sessions.agentId, agentId), eq(sessions.userId, userId));
  const [t, days, latencyRows, reasonRows] = await Promise.all([
    totals(db, scope),
    daily(db, scope, range),
    db.execute(sql`
      select count(${messages.latencyMs})::int as count,
             percentile_cont(0.5) within group (order by ${messages.latencyMs}) as p50,
             percentile_cont(0.95) within group (order by ${messages.latencyMs}) as p95,
             max(${messages.latencyMs}) as max
      from ${messages} join ${sessions} on ${sessions.id} = ${messages.sessionId}
      where ${scope} and ${messages.senderType} = 'agent' and ${messages.latencyMs} is not null`),
    db.execute(sql`
      select ${sessions.endReason} as end_reason, count(*)::int as count,
             mode() within group (order by ${sessions.reason}) as reason
      from ${sessions}
      where ${scope} and ${sessions.endReason} is not null
        and (${sessions.status} = 'failed' or (${sessions.result}->>'passed')::boolean is false)
      group by 1 order by 2 desc, 1`),
  ]);
  const latency = rowsOf<{ count: number; p50: number | null; p95: number | null; max: number | null }>(
    latencyRows,
  )[0]!;
  const total = Number(t.total);
  return {
    agentId: agent.id,
    name: agent.name,
    type: agent.type,
    startDate: range.startDate,
    endDate: range.endDate,
    totalSessions: total,
    activeSessions: Number(t.active),
    completedSessions: Number(t.completed),
    failedSessions: Number(t.failed),
    stoppedSessions: Number(t.stopped),
    averageDuration: round(t.avg_duration),
    successRate: ratio(Number(t.passed), Number(t.judged)),
    messagesPerSession: total > 0 ? Math.round((Number(t.messages) / total) * 10) / 10 : null,
    replyLatency: {
      count: Number(latency.count),
      p50: oneDecimal(latency.p50),
      p95: oneDecimal(latency.p95),
      max: oneDecimal(latency.max),
    },
    failureReasons: rowsOf<{ end_reason: SessionEndReason; count: number; reason: string | null }>(
      reasonRows,
    ).map((r) => ({ endReason: r.end_reason, count: Number(r.count), reason: r.reason })),
    dailyStats: days,
  };
}
