// Reading transcripts: paging, full-text search (PostgreSQL tsvector + GIN index, ranked and highlighted),
// streamed exports, and per-session statistics computed in SQL.
import { Readable } from "node:stream";
import {
  agents,
  type Database,
  type Message,
  messages,
  personas,
  rowsOf,
  type Session,
  sessions,
  type VoiceMessageMeta,
} from "@mimic/db";
import { and, asc, count, desc, eq, getTableColumns, type SQL, sql } from "drizzle-orm";
import { validationError } from "../../errors.js";
import { oneDecimal } from "../../lib/numbers.js";
import { offsetOf, type Page, paginated } from "../../lib/pagination.js";
import { UUID_RE } from "../../lib/schemas.js";
import { presentMessage } from "./service.js";

const transcriptOrder = [asc(messages.timestamp), asc(messages.seq)];

export async function listMessages(
  db: Database,
  session: Session,
  query: Page & { senderType?: Message["senderType"] | undefined },
) {
  const where = and(
    eq(messages.sessionId, session.id),
    query.senderType ? eq(messages.senderType, query.senderType) : undefined,
  );
  const [rows, total] = await Promise.all([
    db
      .select()
      .from(messages)
      .where(where)
      .orderBy(...transcriptOrder)
      .limit(query.limit)
      .offset(offsetOf(query)),
    db.$count(messages, where),
  ]);
  return paginated(rows.map(presentMessage), total, query);
}

// Content is HTML-escaped before highlighting, so the only markup in `highlight` is Mimic's own <mark>.
const escapedContent = sql`replace(replace(replace(${messages.content}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;')`;
/**
 * Messages up to this many characters are highlighted whole; longer ones are cut to two excerpts around the
 * matches. (ts_headline's fragments would also cut short messages: they stop at escaped entities such as `&lt;`.)
 */
const WHOLE_HIGHLIGHT_CHARS = 500;
const headline = (query: SQL) => sql<string>`case
  when char_length(${messages.content}) <= ${sql.raw(String(WHOLE_HIGHLIGHT_CHARS))}
    then ts_headline('english', ${escapedContent}, ${query}, 'StartSel=<mark>, StopSel=</mark>, HighlightAll=true')
  else ts_headline('english', ${escapedContent}, ${query}, 'StartSel=<mark>, StopSel=</mark>, MaxFragments=2, MinWords=8, MaxWords=30, FragmentDelimiter=" … "')
  end`;

async function search(db: Database, q: string, scope: SQL, page: Page) {
  const query = sql`websearch_to_tsquery('english', ${q})`;
  const rows = await db
    .select({
      id: messages.id,
      sessionId: messages.sessionId,
      senderType: messages.senderType,
      content: messages.content,
      timestamp: messages.timestamp,
      rank: sql<number>`ts_rank_cd(${messages.search}, ${query})`.as("rank"),
      highlight: headline(query),
      total: sql<number>`count(*) over ()`,
    })
    .from(messages)
    .innerJoin(sessions, eq(sessions.id, messages.sessionId))
    .where(and(scope, sql`${messages.search} @@ ${query}`))
    .orderBy(desc(sql`rank`), asc(messages.timestamp), asc(messages.seq))
    .limit(page.limit)
    .offset(offsetOf(page));
  let total = Number(rows[0]?.total ?? 0);
  if (rows.length === 0 && page.page > 1) {
    // Past the last page the window count is unavailable: count separately.
    const [row] = await db
      .select({ n: count() })
      .from(messages)
      .innerJoin(sessions, eq(sessions.id, messages.sessionId))
      .where(and(scope, sql`${messages.search} @@ ${query}`));
    total = Number(row?.n ?? 0);
  }
  return {
    query: q,
    results: rows.map(({ total: _t, rank, ...hit }) => ({ ...hit, rank: Number(rank) })),
    count: total,
  };
}

export const searchSession = (db: Database, session: Session, q: string, page: Page) =>
  search(db, q, eq(messages.sessionId, session.id), page);

/** 10000-01-01T00:00:00Z. */
const LAST_INSTANT_MS = Date.UTC(10_000, 0, 1);

export function searchAll(
  db: Database,
  userId: string,
  q: string,
  filters: Page & {
    agentId?: string | undefined;
    personaId?: string | undefined;
    from?: string | undefined;
    to?: string | undefined;
  },
) {
  for (const key of ["from", "to"] as const) {
    const value = filters[key];
    // PostgreSQL has no year 0 (ISO's 0000 is 1 BC): keep to dates it reads back as they were written.
    const ms = value === undefined ? 0 : Date.parse(value);
    if (!(ms >= 0 && ms < LAST_INSTANT_MS))
      throw validationError(key, "must be a date-time between 1970 and 9999");
  }
  for (const key of ["agentId", "personaId"] as const) {
    const value = filters[key];
    if (value !== undefined && !UUID_RE.test(value)) return { query: q, results: [], count: 0 };
  }
  return search(
    db,
    q,
    and(
      eq(sessions.userId, userId),
      filters.agentId ? eq(sessions.agentId, filters.agentId) : undefined,
      filters.personaId ? eq(sessions.personaId, filters.personaId) : undefined,
      // Compared by PostgreSQL at full precision (a JavaScript Date would drop microseconds).
      filters.from ? sql`${messages.timestamp} >= ${filters.from}::timestamptz` : undefined,
      filters.to ? sql`${messages.timestamp} < ${filters.to}::timestamptz` : undefined,
    )!,
    filters,
  );
}

const EXPORT_BATCH = 500;

/**
 * Every message of a session, oldest first, read in batches (keyset on timestamp + seq). The cursor keeps the
 * timestamp at PostgreSQL's microsecond precision: a JavaScript Date (milliseconds) would fall before the
 * last row read, and a batch boundary inside a run of equal timestamps would read the same rows forever.
 */
async function* transcriptBatches(db: Database, sessionId: string) {
  let after: { timestamp: string; seq: number } | undefined;
  for (;;) {
    const rows = await db
      .select({
        ...getTableColumns(messages),
        cursor: sql<string>`to_char(${messages.timestamp} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
      })
      .from(messages)
      .where(
        and(
          eq(messages.sessionId, sessionId),
          after
            ? sql`(${messages.timestamp}, ${messages.seq}) > (${after.timestamp}::timestamptz, ${after.seq})`
            : undefined,
        ),
      )
      .orderBy(...transcriptOrder)
      .limit(EXPORT_BATCH);
    if (rows.length === 0) return;
    yield rows as (Message & { cursor: string })[];
    const last = rows.at(-1)!;
    after = { timestamp: last.cursor, seq: last.seq };
    if (rows.length < EXPORT_BATCH) return;
  }
}

export interface ExportFile {
  filename: string;
  contentType: string;
  stream: Readable;
}

const SENDER_LABEL = { persona: "Persona", agent: "Agent", system: "System" } as const;

function markdownBlock(text: string): string {
  return text
    .split("\n")
    .map((line) => `> ${line}`)
    .join("\n");
}

/** A download of the session: JSON (one document), JSON Lines (one message per line) or Markdown. */
export async function exportSession(
  db: Database,
  session: Session,
  format: "json" | "markdown" | "jsonl",
): Promise<ExportFile> {
  const [names] = await db
    .select({ persona: personas.name, agent: agents.name, agentType: agents.type })
    .from(sessions)
    .innerJoin(personas, eq(personas.id, sessions.personaId))
    .innerJoin(agents, eq(agents.id, sessions.agentId))
    .where(eq(sessions.id, session.id));
  const header = {
    id: session.id,
    status: session.status,
    endReason: session.endReason,
    reason: session.reason,
    persona: { id: session.personaId, name: names?.persona ?? null },
    agent: { id: session.agentId, name: names?.agent ?? null, type: names?.agentType ?? null },
    config: session.config,
    metadata: session.metadata,
    result: session.result,
    startedAt: session.startedAt?.toISOString() ?? null,
    endedAt: session.endedAt?.toISOString() ?? null,
    createdAt: session.createdAt.toISOString(),
  };
  const day = (session.startedAt ?? session.createdAt).toISOString().slice(0, 10);
  const base = `mimic-session-${day}-${session.id.slice(0, 8)}`;
  const batches = transcriptBatches(db, session.id);

  async function* json() {
    yield `{"session":${JSON.stringify(header)},"messages":[`;
    let first = true;
    for await (const rows of batches) {
      for (const m of rows) {
        yield `${first ? "" : ","}\n${JSON.stringify(presentMessage(m))}`;
        first = false;
      }
    }
    yield "\n]}\n";
  }

  async function* jsonl() {
    yield `${JSON.stringify({ type: "session", ...header })}\n`;
    for await (const rows of batches)
      for (const m of rows) yield `${JSON.stringify({ type: "message", ...presentMessage(m) })}\n`;
  }

  async function* markdown() {
    const lines = [
      `# ${names?.persona ?? "Persona"} × ${names?.agent ?? "Agent"}`,
      "",
      `- **Session:** \`${session.id}\``,
      `- **Status:** ${session.status}${session.endReason ? ` (${session.endReason})` : ""}${session.reason ? ` — ${session.reason}` : ""}`,
      `- **Persona:** ${names?.persona ?? session.personaId}`,
      `- **Agent:** ${names?.agent ?? session.agentId}${names?.agentType ? ` (${names.agentType})` : ""}`,
      `- **Started:** ${header.startedAt ?? "not started"}`,
      `- **Ended:** ${header.endedAt ?? "—"}`,
    ];
    if (session.result) {
      lines.push(`- **Verdict:** ${session.result.passed ? "✅ passed" : "❌ failed"}`);
      for (const c of session.result.checks)
        lines.push(
          `  - ${c.status === "passed" ? "✅" : c.status === "failed" ? "❌" : "⏭️"} ${c.name} — ${c.detail}`,
        );
    }
    lines.push("", "## Transcript", "");
    yield `${lines.join("\n")}\n`;
    let n = 0;
    for await (const rows of batches) {
      for (const m of rows) {
        n++;
        const voice = m.metadata?.voice;
        const latency = m.latencyMs !== null && !voice ? ` · ${m.latencyMs} ms` : "";
        const call = voice
          ? voiceNotes(voice)
              .map((note) => ` · ${note}`)
              .join("")
          : "";
        yield `### ${n}. ${SENDER_LABEL[m.senderType]} · ${m.timestamp.toISOString()}${latency}${call}\n\n${markdownBlock(m.content)}\n\n`;
      }
    }
    if (n === 0) yield "_No messages._\n";
  }

  const kinds = {
    json: { ext: "json", contentType: "application/json; charset=utf-8", gen: json },
    jsonl: { ext: "jsonl", contentType: "application/x-ndjson; charset=utf-8", gen: jsonl },
    markdown: { ext: "md", contentType: "text/markdown; charset=utf-8", gen: markdown },
  } as const;
  const kind = kinds[format];
  return {
    filename: `${base}.${kind.ext}`,
    contentType: kind.contentType,
    stream: Readable.from(kind.gen()),
  };
}

/** A voice call turn's timings, as the markdown export and people read them. */
export function voiceNotes(voice: VoiceMessageMeta): string[] {
  const notes: string[] = [];
  const at = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  if (voice.startMs !== undefined && voice.endMs !== undefined)
    notes.push(
      voice.endMs > voice.startMs ? `🔊 ${at(voice.startMs)}–${at(voice.endMs)}` : `at ${at(voice.startMs)}`,
    );
  if (voice.firstAudioMs !== undefined) notes.push(`first audio ${voice.firstAudioMs} ms`);
  if (voice.talkOver) notes.push("talked over the persona");
  if (voice.bargeIn) {
    const { afterMs, clearedAfterMs } = voice.bargeIn;
    notes.push(
      `interrupted after ${afterMs} ms, ${clearedAfterMs === null ? "kept talking" : `cleared after ${clearedAfterMs} ms`}`,
    );
  }
  if (voice.dtmf) notes.push(`pressed ${voice.dtmf}`);
  if (voice.silent) notes.push("stayed silent");
  if (voice.finding) notes.push(`finding: ${voice.finding}`);
  return notes;
}

/** Counts per sender, reply latency percentiles, duration and usage — one SQL query over the transcript. */
export async function sessionStats(db: Database, session: Session) {
  const rows = rowsOf<{
    persona: number;
    agent: number;
    system: number;
    replies: number;
    p50: number | null;
    p95: number | null;
    max: number | null;
    mean: number | null;
  }>(
    await db.execute(sql`
      select count(*) filter (where ${messages.senderType} = 'persona')::int as persona,
             count(*) filter (where ${messages.senderType} = 'agent')::int as agent,
             count(*) filter (where ${messages.senderType} = 'system')::int as system,
             count(${messages.latencyMs}) filter (where ${messages.senderType} = 'agent')::int as replies,
             percentile_cont(0.5) within group (order by ${messages.latencyMs}) filter (where ${messages.senderType} = 'agent') as p50,
             percentile_cont(0.95) within group (order by ${messages.latencyMs}) filter (where ${messages.senderType} = 'agent') as p95,
             max(${messages.latencyMs}) filter (where ${messages.senderType} = 'agent') as max,
             avg(${messages.latencyMs}) filter (where ${messages.senderType} = 'agent') as mean
      from ${messages} where ${messages.sessionId} = ${session.id}`),
  );
  const r = rows[0]!;
  // As in analytics and session_end: a session that ended before it started counts from its creation.
  const start = session.startedAt ?? (session.endedAt ? session.createdAt : null);
  const end = session.endedAt ?? (start ? new Date() : null);
  return {
    sessionId: session.id,
    status: session.status,
    messageCount: Number(r.persona) + Number(r.agent),
    bySender: { persona: Number(r.persona), agent: Number(r.agent), system: Number(r.system) },
    replyLatency: {
      count: Number(r.replies),
      p50: oneDecimal(r.p50),
      p95: oneDecimal(r.p95),
      max: oneDecimal(r.max),
      mean: oneDecimal(r.mean),
    },
    durationSeconds: start && end ? Math.round((end.getTime() - start.getTime()) / 100) / 10 : null,
    usage: { promptTokens: session.promptTokens, completionTokens: session.completionTokens },
    result: session.result,
  };
}
