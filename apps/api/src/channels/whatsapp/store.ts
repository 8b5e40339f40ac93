// The channel's reads and writes: which agent and session a Graph call belongs to, bot messages and findings into
// the transcript (through the engine's reply path), per-message WhatsApp metadata, the simulated clock, media.
import {
  agents,
  type Database,
  type Message,
  messages,
  rowsOf,
  type Session,
  sessions,
  type WhatsappMessageMeta,
  type WhatsappStatus,
  whatsappMedia,
} from "@mimic/db";
import { and, asc, desc, eq, getTableColumns, gt, inArray, isNull, or, sql } from "drizzle-orm";
import { recordLive } from "../../engine/session-store.js";
import { openAgentConfig, SecretKeyError } from "../../lib/secrets.js";

/** Ended sessions whose persona still "has the phone": the bot's late messages to it are accepted and dropped. */
const LATE_WINDOW = sql`interval '1 hour'`;
/** Sessions of one agent looked at when matching a recipient number. */
const MAX_CANDIDATES = 500;
/** Findings that no single session can be told the owner of go to at most this many running sessions. */
export const MAX_FINDING_SESSIONS = 50;
/** The longest jump of a session's simulated clock: ten years. */
const MAX_CLOCK_OFFSET = 10 * 365 * 24 * 3600;

export type AgentRow = typeof agents.$inferSelect;

/**
 * The agent's config with its secrets in plaintext (they are stored encrypted); empty when they cannot be opened.
 * The one place the Graph surface reads an agent's secrets.
 */
export function agentConfigOf(db: Database, row: AgentRow): Record<string, unknown> {
  try {
    return openAgentConfig(db, row.config);
  } catch (error) {
    if (error instanceof SecretKeyError) return {};
    throw error;
  }
}

/** WhatsApp agents (not deleted) registered with this phone number id, whoever owns them. */
export async function agentsByPhoneNumberId(db: Database, phoneNumberId: string): Promise<AgentRow[]> {
  return db
    .select()
    .from(agents)
    .where(
      and(
        eq(agents.type, "whatsapp"),
        isNull(agents.deletedAt),
        sql`${agents.config}->>'phone_number_id' = ${phoneNumberId}`,
      ),
    );
}

/**
 * The session's simulated clock runs `metadata.whatsapp.clockOffset` seconds ahead of the database's: PATCH the
 * session's metadata to jump it forward (the 24-hour customer-service window is measured on it).
 */
export function clockOffset(metadata: Record<string, unknown>): number {
  const whatsapp = metadata.whatsapp as { clockOffset?: unknown } | undefined;
  const offset = Number(whatsapp?.clockOffset ?? 0);
  return Number.isFinite(offset) ? Math.min(Math.max(offset, 0), MAX_CLOCK_OFFSET) : 0;
}

export interface Candidate {
  session: Session;
  running: boolean;
  /** The session's simulated time now (Unix seconds, database clock + offset). */
  now: number;
}

/** Running sessions of the agents, and those ended within the last hour, newest first. */
export async function candidateSessions(db: Database, agentIds: string[]): Promise<Candidate[]> {
  if (agentIds.length === 0) return [];
  const rows = await db
    .select({ session: sessions, now: sql<number>`extract(epoch from now())::float8` })
    .from(sessions)
    .where(
      and(
        inArray(sessions.agentId, agentIds),
        or(
          inArray(sessions.status, ["pending", "active"]),
          gt(sessions.endedAt, sql`now() - ${LATE_WINDOW}`),
        ),
      ),
    )
    .orderBy(desc(sessions.createdAt))
    .limit(MAX_CANDIDATES);
  return rows.map(({ session, now }) => ({
    session,
    running: session.status === "pending" || session.status === "active",
    now: Number(now) + clockOffset(session.metadata),
  }));
}

/** When the persona last wrote, on the session's simulated clock (undefined: it never did). */
export async function lastCustomerMessageAt(db: Database, sessionId: string): Promise<number | undefined> {
  const [row] = await db
    .select({ at: sql<number | null>`(${messages.metadata}->'whatsapp'->>'timestamp')::float8` })
    .from(messages)
    .where(
      and(
        eq(messages.sessionId, sessionId),
        eq(messages.senderType, "persona"),
        sql`${messages.metadata}->'whatsapp' ? 'timestamp'`,
      ),
    )
    .orderBy(desc(messages.timestamp), desc(messages.seq))
    .limit(1);
  return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
}

/** `metadata.whatsapp` merged with `patch` (a missing metadata or whatsapp object counts as empty). */
const mergeWhatsapp = (patch: WhatsappMessageMeta) =>
  sql`coalesce(${messages.metadata}, '{}'::jsonb) || jsonb_build_object('whatsapp', coalesce(${messages.metadata}->'whatsapp', '{}'::jsonb) || ${JSON.stringify(patch)}::jsonb)`;

/**
 * Records what the bot sent as an agent message of a running session, with its WhatsApp metadata, through the
 * engine's reply path (latency, scheduling the persona's next turn, maxMessages, new_message). Returns false when
 * nothing was recorded: the session ended meanwhile, or the message was past maxMessages (dropped and noted once).
 */
export async function recordBotMessage(
  db: Database,
  sessionId: string,
  content: string,
  meta: WhatsappMessageMeta,
): Promise<boolean> {
  return recordWithMeta(db, sessionId, "agent", content, meta);
}

/** A refusal of the Graph surface, recorded in each session it concerns as a `system` finding. */
export async function recordFinding(
  db: Database,
  sessionIds: string[],
  content: string,
  error: NonNullable<WhatsappMessageMeta["error"]>,
) {
  for (const sessionId of sessionIds) await recordWithMeta(db, sessionId, "system", content, { error });
}

async function recordWithMeta(
  db: Database,
  sessionId: string,
  senderType: "agent" | "system",
  content: string,
  meta: WhatsappMessageMeta,
): Promise<boolean> {
  // The message and its metadata are stored (and announced) together, or not at all.
  return recordLive(db, sessionId, { senderType, content, metadata: { whatsapp: meta } });
}

/** Appends statuses to bot messages' timelines (their wamids), each status once per message. */
export async function addStatuses(db: Database, messageIds: string[], status: WhatsappStatus) {
  if (messageIds.length === 0) return;
  await db
    .update(messages)
    .set({
      metadata: sql`jsonb_set(coalesce(${messages.metadata}, '{"whatsapp":{}}'::jsonb), '{whatsapp,statuses}', coalesce(${messages.metadata}->'whatsapp'->'statuses', '[]'::jsonb) || ${JSON.stringify([status])}::jsonb)`,
    })
    .where(
      and(
        inArray(messages.id, messageIds),
        sql`not coalesce(${messages.metadata}->'whatsapp'->'statuses', '[]'::jsonb) @> ${JSON.stringify([{ status: status.status }])}::jsonb`,
      ),
    );
}

/** The bot marked a persona message read: found among the sessions' persona messages by its wamid. */
export async function markReadByBot(
  db: Database,
  sessionIds: string[],
  wamid: string,
  at: number,
  typing: boolean,
): Promise<string | undefined> {
  if (sessionIds.length === 0) return undefined;
  const [row] = await db
    .update(messages)
    .set({ metadata: mergeWhatsapp({ readByBot: at, ...(typing ? { typing } : {}) }) })
    .where(
      and(
        inArray(messages.sessionId, sessionIds),
        eq(messages.senderType, "persona"),
        sql`${messages.metadata}->'whatsapp'->>'id' = ${wamid}`,
      ),
    )
    .returning({ sessionId: messages.sessionId });
  return row?.sessionId;
}

/** What a delivery needs to know: the simulated clock, and the messages since the persona's previous message. */
export async function deliveryState(db: Database, sessionId: string, personaMessageId: string) {
  const [clock] = rowsOf<{ now: number; metadata: Record<string, unknown> }>(
    await db.execute(
      sql`select extract(epoch from now())::float8 as now, ${sessions.metadata} as metadata from ${sessions} where ${sessions.id} = ${sessionId}`,
    ),
  );
  const recent: Pick<Message, "id" | "senderType" | "metadata">[] = await db
    .select({ id: messages.id, senderType: messages.senderType, metadata: messages.metadata })
    .from(messages)
    .where(
      and(
        eq(messages.sessionId, sessionId),
        sql`${messages.seq} > coalesce((select max(m.seq) from ${messages} m where m.session_id = ${sessionId} and m.sender_type = 'persona' and m.id <> ${personaMessageId}), 0)`,
      ),
    )
    .orderBy(asc(messages.timestamp), asc(messages.seq));
  const metadata = clock?.metadata ?? {};
  return { now: Number(clock?.now ?? Date.now() / 1000) + clockOffset(metadata), recent };
}

/** Sets a persona message's WhatsApp metadata once: a redelivery keeps what the first delivery recorded. */
export async function describePersonaMessage(db: Database, messageId: string, meta: WhatsappMessageMeta) {
  await db
    .update(messages)
    .set({ metadata: mergeWhatsapp(meta) })
    .where(
      and(eq(messages.id, messageId), sql`not coalesce(${messages.metadata}->'whatsapp' ? 'id', false)`),
    );
  const [row] = await db
    .select({ metadata: messages.metadata })
    .from(messages)
    .where(eq(messages.id, messageId));
  return row?.metadata?.whatsapp ?? meta;
}

/** Whether the agent has answered since the persona message (it may call Graph before answering the webhook). */
export async function answeredSince(db: Database, sessionId: string, personaMessage: { id: string }) {
  const [row] = await db
    .select({ id: messages.id })
    .from(messages)
    .where(
      and(
        eq(messages.sessionId, sessionId),
        eq(messages.senderType, "agent"),
        sql`${messages.seq} > (select m.seq from ${messages} m where m.id = ${personaMessage.id})`,
      ),
    )
    .limit(1);
  return !!row;
}

export type MediaRow = typeof whatsappMedia.$inferSelect;

export async function insertMedia(db: Database, row: typeof whatsappMedia.$inferInsert) {
  await db.insert(whatsappMedia).values(row);
}

/** A media object, without its bytes. */
export async function findMedia(db: Database, mediaId: string): Promise<Omit<MediaRow, "data"> | undefined> {
  if (!/^[0-9]{1,32}$/.test(mediaId)) return undefined;
  const { data: _data, ...columns } = getTableColumns(whatsappMedia);
  const [row] = await db.select(columns).from(whatsappMedia).where(eq(whatsappMedia.id, mediaId));
  return row;
}

/** A WhatsApp agent by id (deleted ones included: the caller decides). */
export async function agentById(db: Database, agentId: string): Promise<AgentRow | undefined> {
  const [row] = await db.select().from(agents).where(eq(agents.id, agentId));
  return row;
}

export async function mediaBytes(db: Database, mediaId: string): Promise<Buffer | undefined> {
  const [row] = await db
    .select({ data: whatsappMedia.data })
    .from(whatsappMedia)
    .where(eq(whatsappMedia.id, mediaId));
  return row?.data;
}

export async function deleteMedia(db: Database, mediaId: string) {
  await db.delete(whatsappMedia).where(eq(whatsappMedia.id, mediaId));
}

/** Media ids of `ids` the agent never uploaded. */
export async function unknownMedia(db: Database, ids: string[], agentId: string): Promise<string[]> {
  if (ids.length === 0) return [];
  const valid = ids.filter((id) => /^[0-9]{1,32}$/.test(id));
  const found = valid.length
    ? await db
        .select({ id: whatsappMedia.id })
        .from(whatsappMedia)
        .where(and(inArray(whatsappMedia.id, valid), eq(whatsappMedia.agentId, agentId)))
    : [];
  const known = new Set(found.map((r) => r.id));
  return ids.filter((id) => !known.has(id));
}
