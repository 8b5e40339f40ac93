import {
  type Agent,
  agents,
  type Database,
  type Message,
  messageAudio,
  messages,
  personas,
  type Session,
  type SessionCheck,
  type SessionConfig,
  sessions,
} from "@mimic/db";
import type { Static } from "@sinclair/typebox";
import { and, asc, desc, eq, isNull, sql } from "drizzle-orm";
import { missingToRun } from "../../channels/whatsapp/config.js";
import { toMessageData } from "../../engine/events.js";
import { RUNNABLE_AGENT_TYPES } from "../../engine/index.js";
import {
  announceNew,
  appendMessages,
  finishSession,
  MessageIdTakenError,
  MessageLimitError,
  type NewMessageInput,
  SessionNotRunningError,
} from "../../engine/session-store.js";
import { AppError, notFound, validationError } from "../../errors.js";
import {
  agentDefaultChecks,
  checksForAgentType,
  LLM_REQUIRED,
  type LlmAvailability,
  llmJudgeDetails,
  sessionChecks,
  validateCheckPatterns,
  voiceCheckDetails,
} from "../../lib/checks.js";
import { offsetOf, type Page, paginated } from "../../lib/pagination.js";
import { safeEqual } from "../../lib/safe-equal.js";
import { UUID_RE } from "../../lib/schemas.js";
import { agentKeyOf } from "../../lib/secrets.js";
import type { CreateSessionBody } from "./schemas.js";

export const DEFAULT_SESSION_CONFIG: SessionConfig = {
  duration: 300,
  maxMessages: 50,
  messageInterval: 5,
  replyTimeout: 30,
};
const MAX_METADATA_BYTES = 16 * 1024;
/** Keys the API computes into `metadata` (the seed's startTime and messageCount). */
const COMPUTED_METADATA = ["startTime", "messageCount"];
const EMBEDDED_MESSAGES = 1000;

export function checkMetadata(metadata: Record<string, unknown> | undefined) {
  if (!metadata) return;
  if (Buffer.byteLength(JSON.stringify(metadata)) > MAX_METADATA_BYTES) {
    throw validationError("metadata", `must be at most ${MAX_METADATA_BYTES} bytes of JSON`);
  }
  for (const key of COMPUTED_METADATA) {
    if (key in metadata) throw validationError(`metadata.${key}`, "is computed by Mimic and cannot be set");
  }
}

function present(row: Session) {
  return {
    id: row.id,
    agentId: row.agentId,
    personaId: row.personaId,
    status: row.status,
    config: row.config,
    metadata: {
      ...row.metadata,
      startTime: (row.startedAt ?? row.createdAt).toISOString(),
      messageCount: row.messageCount,
    },
    endReason: row.endReason,
    reason: row.reason,
    checks: row.checks,
    result: row.result,
    groupId: row.groupId,
    usage: { promptTokens: row.promptTokens, completionTokens: row.completionTokens },
    startedAt: row.startedAt,
    endedAt: row.endedAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

const presentMessage = (m: Message) => ({ ...toMessageData(m), sessionId: m.sessionId });

export async function findOwnedSession(db: Database, userId: string, id: string): Promise<Session> {
  if (!UUID_RE.test(id)) throw notFound("Session");
  const [row] = await db
    .select()
    .from(sessions)
    .where(and(eq(sessions.id, id), eq(sessions.userId, userId)));
  if (!row) throw notFound("Session");
  return row;
}

/** Starts a session (or, with `repeat`, a group of identical runs; the first one is returned). */
export async function createSession(
  db: Database,
  userId: string,
  input: Static<typeof CreateSessionBody>,
  options: LlmAvailability,
) {
  checkMetadata(input.metadata);
  await validateCheckPatterns(db, input.checks);
  const [persona] = UUID_RE.test(input.personaId)
    ? await db
        .select()
        .from(personas)
        .where(and(eq(personas.id, input.personaId), eq(personas.userId, userId), isNull(personas.deletedAt)))
    : [];
  if (!persona)
    throw new AppError("RESOURCE_NOT_FOUND", "Persona not found", [
      { field: "personaId", message: "no such persona" },
    ]);
  const [agent] = UUID_RE.test(input.agentId)
    ? await db
        .select()
        .from(agents)
        .where(and(eq(agents.id, input.agentId), eq(agents.userId, userId), isNull(agents.deletedAt)))
    : [];
  if (!agent)
    throw new AppError("RESOURCE_NOT_FOUND", "Agent not found", [
      { field: "agentId", message: "no such agent" },
    ]);
  if (agent.status !== "active")
    throw new AppError("CONFLICT", "The agent is inactive; activate it to start sessions");
  assertRunnable(agent, input.checks, options);
  const checks = sessionChecks(
    // A persona may be used with any agent: its defaults for another channel (voice checks) stay out.
    { goal: persona.goal, checks: checksForAgentType(persona.checks, agent.type) },
    input.checks,
    input.inheritChecks ?? true,
    agentDefaultChecks(agent.type),
  );
  if (!options.llmConfigured) {
    // Refused now rather than failing (or being skipped) when the session runs.
    const details = [
      ...(persona.provider === "openai"
        ? [{ field: "personaId", message: `the persona uses the openai provider, which ${LLM_REQUIRED}` }]
        : []),
      ...llmJudgeDetails(input.checks),
      ...(input.inheritChecks === false ? [] : llmJudgeDetails(persona.checks, "personaId.checks")),
    ];
    if (details.length > 0) throw new AppError("VALIDATION_ERROR", `This session ${LLM_REQUIRED}`, details);
  }
  const fromPersona = persona.config;
  const config: SessionConfig = {
    duration: input.config?.duration ?? fromPersona.sessionDuration ?? DEFAULT_SESSION_CONFIG.duration,
    maxMessages: input.config?.maxMessages ?? fromPersona.maxMessages ?? DEFAULT_SESSION_CONFIG.maxMessages,
    messageInterval:
      input.config?.messageInterval ?? fromPersona.messageInterval ?? DEFAULT_SESSION_CONFIG.messageInterval,
    replyTimeout:
      input.config?.replyTimeout ?? fromPersona.replyTimeout ?? DEFAULT_SESSION_CONFIG.replyTimeout,
  };
  const runs = await insertRuns(db, {
    userId,
    agentId: agent.id,
    personaId: persona.id,
    config,
    metadata: input.metadata ?? {},
    checks,
    times: input.repeat ?? 1,
    groupId: input.repeat && input.repeat > 1 ? crypto.randomUUID() : null,
  });
  return present(runs[0]!);
}

export const VOICE_URL_REQUIRED =
  "voice agents need a `url` (ws:// or wss://) to run: Mimic connects as Twilio Media Streams; calling `phone_number` is not supported";
export const STT_REQUIRED =
  "Voice sessions need a speech-to-text endpoint to hear the bot: set MIMIC_STT_BASE_URL (OpenAI-compatible, with its /v1), and MIMIC_STT_API_KEY and MIMIC_STT_MODEL as it needs, on the server";

/**
 * What a session with this agent needs before it may start, checked whenever sessions are created (one, a
 * `repeat` group, or a repeat of a past session): a type the engine runs, the channel's config, the server's STT
 * for voice, and no voice checks of its own for an agent that is not voice.
 */
export function assertRunnable(
  agent: Agent,
  ownChecks: SessionCheck[] | undefined,
  options: LlmAvailability,
) {
  if (!(RUNNABLE_AGENT_TYPES as readonly string[]).includes(agent.type)) {
    throw validationError(
      "agentId",
      `${agent.type} agents cannot run sessions yet (supported: ${RUNNABLE_AGENT_TYPES.join(", ")})`,
    );
  }
  if (agent.type === "whatsapp") {
    // Mimic plays Meta towards the bot: it signs, verifies and authenticates with these.
    const missing = missingToRun(agent.config);
    if (missing.length > 0)
      throw new AppError(
        "VALIDATION_ERROR",
        "The WhatsApp agent's config lacks what a session needs",
        missing.map((key) => ({
          field: `agentId.config.${key}`,
          message: `${key} is required to run sessions`,
        })),
      );
  }
  if (agent.type === "voice") {
    // Mimic plays Twilio: it dials the bot's Media Streams WebSocket, and transcribes what it hears.
    const url = (agent.config as { url?: unknown }).url;
    if (typeof url !== "string" || url === "")
      throw new AppError("VALIDATION_ERROR", VOICE_URL_REQUIRED, [
        { field: "agentId.config.url", message: "is required to run sessions" },
      ]);
    if (!/^wss?:\/\//i.test(url))
      throw new AppError("VALIDATION_ERROR", VOICE_URL_REQUIRED, [
        {
          field: "agentId.config.url",
          message: `must be a ws:// or wss:// URL to run sessions, not ${url.split(":")[0]}://`,
        },
      ]);
    if (!options.sttConfigured)
      throw new AppError("VALIDATION_ERROR", STT_REQUIRED, [
        {
          field: "agentId",
          message:
            "voice sessions need MIMIC_STT_BASE_URL (and MIMIC_STT_API_KEY, MIMIC_STT_MODEL) on the server",
        },
      ]);
  }
  const misplaced = voiceCheckDetails(agent.type, ownChecks);
  if (misplaced.length > 0)
    throw new AppError("VALIDATION_ERROR", "Voice checks apply to voice agents only", misplaced);
}

interface RunSpec {
  userId: string;
  agentId: string;
  personaId: string;
  config: SessionConfig;
  metadata: Record<string, unknown>;
  checks: SessionCheck[];
  times: number;
  groupId: string | null;
}

/** Inserts `times` identical sessions in one transaction and wakes the engine. */
export async function insertRuns(db: Database, spec: RunSpec): Promise<Session[]> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .insert(sessions)
      .values(
        Array.from({ length: spec.times }, () => ({
          userId: spec.userId,
          agentId: spec.agentId,
          personaId: spec.personaId,
          config: spec.config,
          metadata: spec.metadata,
          checks: spec.checks,
          groupId: spec.groupId,
          nextTurnAt: sql`now()`,
        })),
      )
      .returning();
    await announceNew(tx, rows);
    return rows;
  });
}

export async function getSession(db: Database, userId: string, id: string) {
  const row = await findOwnedSession(db, userId, id);
  const transcript = await db
    .select()
    .from(messages)
    .where(eq(messages.sessionId, id))
    .orderBy(asc(messages.timestamp), asc(messages.seq))
    .limit(EMBEDDED_MESSAGES);
  return { ...present(row), messages: transcript.map(presentMessage) };
}

export async function listSessions(
  db: Database,
  userId: string,
  query: Page & {
    status?: Session["status"] | undefined;
    agentId?: string | undefined;
    personaId?: string | undefined;
  },
) {
  for (const key of ["agentId", "personaId"] as const) {
    const value = query[key];
    // An id that cannot exist matches nothing, like any other unknown id.
    if (value !== undefined && !UUID_RE.test(value)) return paginated([], 0, query);
  }
  const where = and(
    eq(sessions.userId, userId),
    query.status ? eq(sessions.status, query.status) : undefined,
    query.agentId ? eq(sessions.agentId, query.agentId) : undefined,
    query.personaId ? eq(sessions.personaId, query.personaId) : undefined,
  );
  const [rows, total] = await Promise.all([
    db
      .select()
      .from(sessions)
      .where(where)
      .orderBy(desc(sessions.createdAt), desc(sessions.id))
      .limit(query.limit)
      .offset(offsetOf(query)),
    db.$count(sessions, where),
  ]);
  return paginated(rows.map(present), total, query);
}

/** Stops a running session and keeps its transcript. A finished session is returned unchanged. */
export async function stopSession(db: Database, userId: string, id: string) {
  const row = await findOwnedSession(db, userId, id);
  const stopped = await finishSession(db, row.id, { reason: "stopped", detail: "stopped by user" });
  const current = stopped ?? (await findOwnedSession(db, userId, id));
  return {
    id: current.id,
    status: current.status,
    endReason: current.endReason,
    reason: current.reason,
    updatedAt: current.updatedAt,
  };
}

/** The session, if `token` is the api_key of the session's agent (how a bot posts asynchronous replies). */
export async function sessionForAgentKey(
  db: Database,
  sessionId: string,
  token: string,
): Promise<Session | undefined> {
  if (!UUID_RE.test(sessionId)) return undefined;
  const [row] = await db
    .select({ session: sessions, config: agents.config })
    .from(sessions)
    .innerJoin(agents, eq(agents.id, sessions.agentId))
    .where(eq(sessions.id, sessionId));
  const key = row && agentKeyOf(db, row.config); // stored encrypted
  return row && key && safeEqual(key, token) ? row.session : undefined;
}

/**
 * Appends messages (one, or an atomic batch). Agent messages to a running session go through the engine's
 * reply path; the same client id twice stores one message.
 */
export async function addMessages(
  db: Database,
  session: Session,
  items: NewMessageInput[],
  options: { requireRunning?: boolean } = {},
) {
  try {
    return await appendMessages(db, session.id, items, { ...options, overLimit: "reject" });
  } catch (error) {
    if (error instanceof MessageLimitError)
      throw new AppError("CONFLICT", `The session ${error.message}; the reply was not recorded`);
    if (error instanceof SessionNotRunningError) {
      throw new AppError("CONFLICT", `The session is ${session.status}; it no longer accepts replies`);
    }
    // A client id already used in another session is a conflict, never a way to read that message.
    if (error instanceof MessageIdTakenError)
      throw new AppError("CONFLICT", "A message with this id already exists");
    throw error;
  }
}

/** Merges `patch` into the session's metadata; a key set to null is removed. */
export async function updateSessionMetadata(
  db: Database,
  userId: string,
  id: string,
  patch: Record<string, unknown>,
) {
  await findOwnedSession(db, userId, id);
  const set = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== null));
  const removed = Object.keys(patch).filter((key) => patch[key] === null);
  checkMetadata(set);
  return db.transaction(async (tx) => {
    // Merged by PostgreSQL in one statement: concurrent patches of different keys all land.
    const [row] = await tx
      .update(sessions)
      .set({
        metadata: removed.reduce(
          (expr, key) => sql`${expr} - ${key}::text`,
          sql`(${sessions.metadata} || ${JSON.stringify(set)}::jsonb)`,
        ),
        updatedAt: sql`now()`,
      })
      .where(and(eq(sessions.id, id), eq(sessions.userId, userId)))
      .returning();
    // The merged whole must still fit; otherwise this rolls back.
    checkMetadata(row!.metadata);
    return present(row!);
  });
}

/** The stored audio of one message of a session of `userId`'s: a WAV file. */
export async function getMessageAudio(db: Database, userId: string, sessionId: string, messageId: string) {
  const session = await findOwnedSession(db, userId, sessionId);
  if (!UUID_RE.test(messageId)) throw notFound("Message");
  const [row] = await db
    .select({ wav: messageAudio.wav, durationMs: messageAudio.durationMs })
    .from(messages)
    .leftJoin(
      messageAudio,
      and(eq(messageAudio.messageId, messages.id), eq(messageAudio.sessionId, messages.sessionId)),
    )
    .where(and(eq(messages.id, messageId), eq(messages.sessionId, session.id)));
  if (!row) throw notFound("Message");
  if (!row.wav) throw new AppError("RESOURCE_NOT_FOUND", "This message has no audio");
  return { wav: row.wav, durationMs: row.durationMs };
}

export { presentMessage };
