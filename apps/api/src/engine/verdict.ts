// The verdict that makes a session a test: when a session has ended (completed or failed), the engine runs its
// checks and stores `result {passed, checks[]}`. Checks over the transcript are SQL; the optional LLM judge asks
// the configured OpenAI-compatible endpoint. A stopped session gets no verdict.
import type {
  CheckResult,
  Database,
  Session,
  SessionCheck,
  SessionEndReason,
  SessionResult,
} from "@mimic/db";
import { messages, rowsOf } from "@mimic/db";
import { and, asc, eq, sql } from "drizzle-orm";

export interface Judge {
  /** Returns whether the transcript satisfies the rubric, and why. */
  judge(rubric: string, transcript: string): Promise<{ passed: boolean; reason: string }>;
}

/** Patterns run inside PostgreSQL under this statement timeout, so a pathological pattern cannot stall anything. */
const PATTERN_TIMEOUT_MS = 1000;

export function checkName(check: SessionCheck): string {
  switch (check.type) {
    case "reply_within":
      return `every reply within ${check.ms} ms`;
    case "all_answered":
      return "every persona message answered";
    case "must_match":
      return `an agent message matches /${check.pattern}/i`;
    case "must_not_match":
      return `no agent message matches /${check.pattern}/i`;
    case "goal_reached":
      return "the persona reached its goal";
    case "llm_judge":
      return `LLM judge: ${check.rubric.length > 60 ? `${check.rubric.slice(0, 57)}…` : check.rubric}`;
    case "whatsapp_valid":
      return "WhatsApp accepted every message of the bot";
    case "voice_valid":
      return "the bot's Media Streams frames were valid";
    case "first_audio_within":
      return `the bot starts speaking within ${check.ms} ms`;
    case "no_long_silence":
      return `no silence longer than ${check.ms} ms`;
  }
}

const result = (check: SessionCheck, passed: boolean, detail: string): CheckResult => ({
  name: checkName(check),
  type: check.type,
  status: passed ? "passed" : "failed",
  passed,
  detail,
});

async function replyWithin(
  db: Database,
  session: Session,
  check: Extract<SessionCheck, { type: "reply_within" }>,
) {
  const rows = await db.execute(sql`
    select count(*)::int as total,
           count(*) filter (where ${messages.latencyMs} > ${check.ms})::int as slow,
           max(${messages.latencyMs})::int as slowest
    from ${messages}
    where ${messages.sessionId} = ${session.id} and ${messages.senderType} = 'agent' and ${messages.latencyMs} is not null`);
  const row = rowsOf<{ total: number; slow: number; slowest: number | null }>(rows)[0];
  if (!row || Number(row.total) === 0) return result(check, false, "the agent never replied");
  const slow = Number(row.slow);
  return slow === 0
    ? result(check, true, `slowest reply ${row.slowest} ms`)
    : result(
        check,
        false,
        `${slow} of ${row.total} replies slower than ${check.ms} ms (slowest ${row.slowest} ms)`,
      );
}

/** Ends where the persona's last message is a goodbye, which needs no answer. */
const PARTING_ENDS: readonly SessionEndReason[] = ["goal_reached", "persona_gave_up"];
/** Ends that may cut the agent's reply window short. */
const LIMIT_ENDS: readonly SessionEndReason[] = ["message_limit", "duration_limit"];

async function allAnswered(db: Database, session: Session, check: SessionCheck) {
  // Number persona turns by a running count, then count the agent messages inside each turn. `cut` tells
  // whether the session ended before the agent's reply window for that turn closed (database clock).
  const rows = await db.execute(sql`
    with numbered as (
      select ${messages.senderType} as sender, ${messages.timestamp} as at,
             sum(case when ${messages.senderType} = 'persona' then 1 else 0 end)
               over (order by ${messages.timestamp}, ${messages.seq}) as turn
      from ${messages} where ${messages.sessionId} = ${session.id}
    )
    select turn::int as turn, count(*) filter (where sender = 'agent')::int as replies,
           coalesce(${session.endedAt?.toISOString() ?? null}::timestamptz < min(at) filter (where sender = 'persona')
             + make_interval(secs => ${session.config.replyTimeout}::float8), false) as cut
    from numbered where turn > 0 group by turn order by turn`);
  const turns = rowsOf<{ turn: number; replies: number; cut: boolean }>(rows);
  const last = turns.at(-1);
  const endReason = session.endReason;
  // The persona's goodbye needs no answer, nor does a message the session's limit cut off before the agent
  // had its reply timeout to answer it.
  const excuseLast =
    !!last &&
    Number(last.replies) === 0 &&
    !!endReason &&
    (PARTING_ENDS.includes(endReason) || (LIMIT_ENDS.includes(endReason) && last.cut));
  const considered = excuseLast ? turns.slice(0, -1) : turns;
  const unanswered = considered.filter((t) => Number(t.replies) === 0).map((t) => Number(t.turn));
  if (turns.length === 0) return result(check, false, "the persona never spoke");
  if (considered.length === 0)
    return result(check, true, "the persona's only message was cut off by the end of the session");
  return unanswered.length === 0
    ? result(check, true, `${considered.length} of ${considered.length} answered`)
    : result(
        check,
        false,
        `persona message${unanswered.length > 1 ? "s" : ""} ${unanswered.join(", ")} got no reply`,
      );
}

async function matching(
  db: Database,
  session: Session,
  pattern: string,
): Promise<{ count: number; first: string | null }> {
  return db.transaction(async (tx) => {
    await tx.execute(sql.raw(`set local statement_timeout = ${PATTERN_TIMEOUT_MS}`));
    const rows = await tx
      .select({ count: sql<number>`count(*) over ()`, content: messages.content })
      .from(messages)
      .where(
        and(
          eq(messages.sessionId, session.id),
          eq(messages.senderType, "agent"),
          sql`${messages.content} ~* ${pattern}`,
        ),
      )
      .orderBy(asc(messages.timestamp), asc(messages.seq))
      .limit(1);
    return { count: Number(rows[0]?.count ?? 0), first: rows[0]?.content ?? null };
  });
}

/** Refusals of the WhatsApp Graph surface are `system` findings carrying the Graph error in their metadata. */
async function whatsappValid(db: Database, session: Session, check: SessionCheck) {
  const [row] = await db
    .select({
      count: sql<number>`count(*) over ()`,
      code: sql<number>`(${messages.metadata}->'whatsapp'->'error'->>'code')::int`,
      details: sql<string>`${messages.metadata}->'whatsapp'->'error'->>'details'`,
    })
    .from(messages)
    .where(
      and(
        eq(messages.sessionId, session.id),
        eq(messages.senderType, "system"),
        sql`${messages.metadata}->'whatsapp' ? 'error'`,
      ),
    )
    .orderBy(asc(messages.timestamp), asc(messages.seq))
    .limit(1);
  if (!row) return result(check, true, "no Graph API call was refused");
  const count = Number(row.count);
  return result(
    check,
    false,
    `${count} Graph API call${count > 1 ? "s" : ""} refused; first: #${row.code} ${row.details}`,
  );
}

const snippet = (text: string) => (text.length > 80 ? `“${text.slice(0, 77)}…”` : `“${text}”`);

/** What Mimic found wrong with a voice bot's stream are `system` findings with `metadata.voice.finding`. */
async function voiceValid(db: Database, session: Session, check: SessionCheck) {
  const finding = sql<string>`${messages.metadata}->'voice'->>'finding'`;
  // Findings are few: each kind is reported once per call.
  const found = await db
    .select({ finding, content: messages.content })
    .from(messages)
    .where(
      and(eq(messages.sessionId, session.id), eq(messages.senderType, "system"), sql`${finding} is not null`),
    )
    .orderBy(asc(messages.timestamp), asc(messages.seq));
  const first = found[0];
  if (!first) return result(check, true, "nothing wrong found in the bot's Media Streams frames");
  const kinds = new Map<string, number>();
  for (const f of found) kinds.set(f.finding, (kinds.get(f.finding) ?? 0) + 1);
  return result(
    check,
    false,
    `${found.length} finding${found.length > 1 ? "s" : ""} (${[...kinds].map(([kind, n]) => `${n} ${kind}`).join(", ")}); first: ${first.finding} ${snippet(first.content)}`,
  );
}

/** Time to first audio: agent utterances carry `metadata.voice.firstAudioMs` (negative: the bot talked over). */
async function firstAudioWithin(
  db: Database,
  session: Session,
  check: Extract<SessionCheck, { type: "first_audio_within" }>,
) {
  const firstAudio = sql`(${messages.metadata}->'voice'->>'firstAudioMs')::float8`;
  const [row] = await db
    .select({
      total: sql<number>`count(*)::int`,
      late: sql<number>`count(*) filter (where ${firstAudio} > ${check.ms})::int`,
      slowest: sql<number | null>`max(${firstAudio})`,
    })
    .from(messages)
    .where(
      and(
        eq(messages.sessionId, session.id),
        eq(messages.senderType, "agent"),
        sql`${firstAudio} is not null`,
      ),
    );
  const total = Number(row?.total ?? 0);
  if (total === 0) return result(check, false, "the bot never spoke");
  const late = Number(row!.late);
  const slowest = Math.round(Number(row!.slowest));
  const of = `${total} utterance${total > 1 ? "s" : ""}`;
  return late === 0
    ? result(check, true, `slowest first audio ${slowest} ms (${of})`)
    : result(
        check,
        false,
        `${late} of ${of} started later than ${check.ms} ms after the persona (slowest ${slowest} ms)`,
      );
}

interface Utterance {
  sender: "persona" | "agent";
  /** The message's number among its sender's messages in the transcript, from 1. */
  n: number;
  content: string;
  startMs: number;
  endMs: number;
}

/**
 * Dead air on a call, on the call's clock (`ordered` by start): the silence after a persona utterance until anyone
 * speaks next, and between two bot utterances with no persona speech between them. The persona's own pause after the bot is not
 * the bot's doing and does not count. A silent persona turn (start = end) starts a silence like any other.
 */
function longestSilences(ordered: Utterance[], maxMs: number) {
  let longest: { gapMs: number; after: Utterance } | undefined;
  let over = 0;
  // The utterance that ended last so far: overlapping speech (talk-over, barge-in) is not silence.
  let last: Utterance | undefined;
  for (const next of ordered) {
    if (last && (last.sender === "persona" || next.sender === "agent")) {
      const gapMs = Math.max(0, next.startMs - last.endMs);
      if (gapMs > maxMs) over++;
      if (!longest || gapMs > longest.gapMs) longest = { gapMs, after: last };
    }
    if (!last || next.endMs >= last.endMs) last = next;
  }
  return { longest, over };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const describeUtterance = (u: Utterance) =>
  `${u.sender === "agent" ? "agent" : "persona"} message ${u.n} ${snippet(u.content)} (ended at ${seconds(u.endMs)})`;

async function noLongSilence(
  db: Database,
  session: Session,
  check: Extract<SessionCheck, { type: "no_long_silence" }>,
) {
  const voice = sql`${messages.metadata}->'voice'`;
  const rows = await db.execute(sql`
    select sender, n, content, start_ms, end_ms from (
      select ${messages.senderType} as sender, ${messages.content} as content,
             ${messages.timestamp} as at, ${messages.seq} as seq,
             row_number() over (partition by ${messages.senderType} order by ${messages.timestamp}, ${messages.seq})::int as n,
             (${voice}->>'startMs')::float8 as start_ms, (${voice}->>'endMs')::float8 as end_ms
      from ${messages}
      where ${messages.sessionId} = ${session.id} and ${messages.senderType} in ('persona', 'agent')
    ) m
    where start_ms is not null and end_ms is not null
    order by start_ms, at, seq`);
  const utterances = rowsOf<{
    sender: "persona" | "agent";
    n: number;
    content: string;
    start_ms: number;
    end_ms: number;
  }>(rows).map(
    (r): Utterance => ({
      sender: r.sender,
      n: Number(r.n),
      content: r.content,
      startMs: Number(r.start_ms),
      endMs: Math.max(Number(r.start_ms), Number(r.end_ms)),
    }),
  );
  const { longest, over } = longestSilences(utterances, check.ms);
  if (!longest)
    return result(
      check,
      true,
      `no silence to measure (${utterances.length} timed utterance${utterances.length === 1 ? "" : "s"})`,
    );
  const where = `${Math.round(longest.gapMs)} ms after ${describeUtterance(longest.after)}`;
  return over === 0
    ? result(check, true, `longest silence ${where}`)
    : result(
        check,
        false,
        `${over} silence${over > 1 ? "s" : ""} longer than ${check.ms} ms; longest ${where}`,
      );
}

async function transcriptText(db: Database, session: Session): Promise<string> {
  const rows = await db
    .select({ senderType: messages.senderType, content: messages.content })
    .from(messages)
    .where(eq(messages.sessionId, session.id))
    .orderBy(asc(messages.timestamp), asc(messages.seq))
    .limit(400);
  return rows
    .map(
      (m) =>
        `${m.senderType === "persona" ? "CUSTOMER" : m.senderType === "agent" ? "AGENT" : "NOTE"}: ${m.content}`,
    )
    .join("\n");
}

/** Why the goal was not reached, from the end reason (data), with the detail where it helps. */
function goalMissed(session: Session): string {
  const { config } = session;
  switch (session.endReason) {
    case "message_limit":
      return `goal not reached within ${config.maxMessages} messages`;
    case "duration_limit":
      return `goal not reached within ${config.duration} s`;
    case "persona_gave_up":
      return "goal not reached before the persona gave up";
    default:
      return `goal not reached: the session ended with ${session.endReason ?? session.status}${
        session.reason ? ` (${session.reason})` : ""
      }`;
  }
}

export async function runCheck(
  db: Database,
  session: Session,
  check: SessionCheck,
  judge: Judge | undefined,
): Promise<CheckResult> {
  try {
    switch (check.type) {
      case "reply_within":
        return await replyWithin(db, session, check);
      case "all_answered":
        return await allAnswered(db, session, check);
      case "must_match": {
        const { count, first } = await matching(db, session, check.pattern);
        return count > 0
          ? result(check, true, `${count} matching, first: ${snippet(first!)}`)
          : result(check, false, "no agent message matches");
      }
      case "must_not_match": {
        const { count, first } = await matching(db, session, check.pattern);
        return count === 0
          ? result(check, true, "no agent message matches")
          : result(check, false, `${count} matching, first: ${snippet(first!)}`);
      }
      case "whatsapp_valid":
        return await whatsappValid(db, session, check);
      case "voice_valid":
        return await voiceValid(db, session, check);
      case "first_audio_within":
        return await firstAudioWithin(db, session, check);
      case "no_long_silence":
        return await noLongSilence(db, session, check);
      case "goal_reached":
        return session.endReason === "goal_reached"
          ? result(check, true, "goal reached")
          : result(check, false, goalMissed(session));
      case "llm_judge": {
        if (!judge) {
          return {
            name: checkName(check),
            type: check.type,
            status: "skipped",
            passed: null,
            detail: "no LLM endpoint configured (MIMIC_LLM_BASE_URL)",
          };
        }
        const verdict = await judge.judge(check.rubric, await transcriptText(db, session));
        return result(check, verdict.passed, verdict.reason);
      }
    }
  } catch (error) {
    return {
      name: checkName(check),
      type: check.type,
      status: "failed",
      passed: false,
      detail: `check could not run: ${(error as Error).message}`,
    };
  }
}

/** The verdict: the session completed, and every check that ran passed (skipped checks do not count). */
export async function computeVerdict(
  db: Database,
  session: Session,
  judge: Judge | undefined,
): Promise<SessionResult> {
  // A persona that gave up ends the session normally, but the agent lost the customer: that is a failure.
  const ok = session.status === "completed" && session.endReason !== "persona_gave_up";
  const completed: CheckResult = {
    name: "the session completed",
    type: "completed",
    status: ok ? "passed" : "failed",
    passed: ok,
    detail: session.reason ?? session.status,
  };
  const checks = [completed];
  for (const check of session.checks) checks.push(await runCheck(db, session, check, judge));
  return { passed: checks.every((c) => c.status !== "failed"), checks };
}
