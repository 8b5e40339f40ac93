// Per-user quotas: how many personas, agents, running sessions and stored messages one account may hold, so
// one user (or one runaway CI job) cannot fill the database or the engine. Each check is one count over an index
// keyed by user_id, made before the create; concurrent creates may pass together and overshoot by their number.
import { agents, type Database, personas, sessions } from "@mimic/db";
import { and, count, eq, isNull, sql } from "drizzle-orm";
import type { Config } from "../config.js";
import { AppError } from "../errors.js";

export type Quotas = Config["quotas"];
export type QuotaName = keyof Quotas;

/** The environment variable that sets each quota (named in errors, so an operator knows what to raise). */
export const QUOTA_ENV: Record<QuotaName, string> = {
  personas: "MIMIC_QUOTA_PERSONAS",
  agents: "MIMIC_QUOTA_AGENTS",
  activeSessions: "MIMIC_QUOTA_ACTIVE_SESSIONS",
  messages: "MIMIC_QUOTA_MESSAGES",
};

const WHAT: Record<QuotaName, { noun: string; remedy: string }> = {
  personas: { noun: "personas", remedy: "delete personas you no longer need" },
  agents: { noun: "agents", remedy: "delete agents you no longer need" },
  activeSessions: {
    noun: "pending or active sessions",
    remedy: "wait for sessions to finish, or stop some (DELETE /api/sessions/{id})",
  },
  messages: { noun: "stored messages", remedy: "ask the server's operator to raise it" },
};

/** What one request would add to each quota. */
export type Charge = Partial<Record<QuotaName, number>>;

/** The counting queries, one per table: each reads an index keyed by user_id (see the test that EXPLAINs them). */
export function quotaQueries(db: Database, userId: string) {
  return {
    // Soft-deleted rows do not count: the partial indexes personas_user_idx / agents_user_idx hold only live ones.
    personas: db
      .select({ n: count() })
      .from(personas)
      .where(and(eq(personas.userId, userId), isNull(personas.deletedAt))),
    agents: db
      .select({ n: count() })
      .from(agents)
      .where(and(eq(agents.userId, userId), isNull(agents.deletedAt))),
    // One pass over the user's sessions (sessions_user_idx); the trigger-kept message_count saves reading messages.
    sessions: db
      .select({
        active: sql<number>`count(*) filter (where ${sessions.status} in ('pending', 'active'))`.mapWith(
          Number,
        ),
        messages: sql<number>`coalesce(sum(${sessions.messageCount}), 0)`.mapWith(Number),
      })
      .from(sessions)
      .where(eq(sessions.userId, userId)),
  };
}

/** How much of each named quota the user holds now. */
export async function quotaUsage(db: Database, userId: string, names: QuotaName[]) {
  const queries = quotaQueries(db, userId);
  const wants = (...of: QuotaName[]) => of.some((name) => names.includes(name));
  const [personaRows, agentRows, sessionRows] = await Promise.all([
    wants("personas") ? queries.personas : undefined,
    wants("agents") ? queries.agents : undefined,
    wants("activeSessions", "messages") ? queries.sessions : undefined,
  ]);
  return {
    personas: personaRows?.[0]?.n ?? 0,
    agents: agentRows?.[0]?.n ?? 0,
    activeSessions: sessionRows?.[0]?.active ?? 0,
    messages: sessionRows?.[0]?.messages ?? 0,
  } satisfies Record<QuotaName, number>;
}

/**
 * Refuses (409 CONFLICT) a create that would take the user past a quota. A quota of 0 is no limit. The error
 * names the quota in `details[].field` (`quota.agents` …) for programs, and its variable for operators.
 */
export async function enforceQuotas(db: Database, userId: string, quotas: Quotas, charge: Charge) {
  const names = (Object.keys(charge) as QuotaName[]).filter((name) => quotas[name] > 0);
  if (names.length === 0) return;
  const used = await quotaUsage(db, userId, names);
  for (const name of names) {
    const limit = quotas[name];
    const have = used[name];
    const adding = charge[name] ?? 0;
    if (have + adding <= limit) continue;
    const { noun, remedy } = WHAT[name];
    const asked = adding > 1 ? `; this request adds ${adding}` : "";
    throw new AppError(
      "CONFLICT",
      `Quota exceeded: at most ${limit} ${noun} per user (${QUOTA_ENV[name]}); you have ${have}${asked}. To go on, ${remedy}.`,
      [{ field: `quota.${name}`, message: `${have} of ${limit} used${asked}` }],
    );
  }
}
