import { type AgentType, agents, type Database, sessions } from "@mimic/db";
import type { Static } from "@sinclair/typebox";
import { and, desc, eq, inArray, isNull, type SQL, sql } from "drizzle-orm";
import { endIn } from "../../engine/session-store.js";
import { AppError, notFound } from "../../errors.js";
import { bodyAjv } from "../../lib/ajv.js";
import { isPrivateUrlHost } from "../../lib/outbound.js";
import { offsetOf, type Page, paginated } from "../../lib/pagination.js";
import { UUID_RE } from "../../lib/schemas.js";
import { validationDetails } from "../../plugins/errors.js";
import { AGENT_CONFIG_SCHEMAS, type CreateAgentBody, SECRET_KEYS, type UpdateAgentBody } from "./schemas.js";

type AgentConfig = Record<string, unknown>;
type AgentRow = typeof agents.$inferSelect;

const validators = Object.fromEntries(
  Object.entries(AGENT_CONFIG_SCHEMAS).map(([type, schema]) => [type, bodyAjv.compile(schema)]),
) as Record<AgentType, ReturnType<typeof bodyAjv.compile>>;

const URL_KEYS = ["webhook_url", "url"] as const;

/** Validates `config` against the schema of its agent type; 422 naming `config.<field>` otherwise. */
export function validateAgentConfig(type: AgentType, config: AgentConfig, allowPrivateTargets: boolean) {
  const validate = validators[type];
  if (!validate(config)) {
    const details = validationDetails(validate.errors ?? []).map((d) => ({
      field: d.field === "request" ? "config" : `config.${d.field}`,
      message: d.message,
    }));
    throw new AppError("VALIDATION_ERROR", `Invalid config for a ${type} agent`, details);
  }
  if (!allowPrivateTargets) {
    for (const key of URL_KEYS) {
      const value = config[key];
      if (typeof value === "string" && isPrivateUrlHost(value)) {
        throw new AppError("VALIDATION_ERROR", "Invalid request data", [
          {
            field: `config.${key}`,
            message:
              "points at a private, loopback or link-local address (set MIMIC_ALLOW_PRIVATE_TARGETS=true to allow)",
          },
        ]);
      }
    }
  }
}

export const maskSecret = (value: string) => (value.length >= 8 ? `****${value.slice(-4)}` : "****");

/** A copy of the config with every secret (and every custom header value) masked. */
export function maskConfig(config: AgentConfig): AgentConfig {
  const out: AgentConfig = {};
  for (const [key, value] of Object.entries(config)) {
    if (SECRET_KEYS.has(key) && typeof value === "string") out[key] = maskSecret(value);
    else if (key === "headers" && value && typeof value === "object") {
      out[key] = Object.fromEntries(Object.entries(value).map(([h, v]) => [h, maskSecret(String(v))]));
    } else out[key] = value;
  }
  return out;
}

/** A secret sent back exactly as it was shown (masked) keeps its stored value, so GET → PUT round-trips. */
function keepMaskedSecrets(next: AgentConfig, previous: AgentConfig): AgentConfig {
  const out = { ...next };
  for (const key of SECRET_KEYS) {
    const stored = previous[key];
    if (typeof out[key] === "string" && typeof stored === "string" && out[key] === maskSecret(stored))
      out[key] = stored;
  }
  const headers = out.headers as Record<string, string> | undefined;
  const storedHeaders = previous.headers as Record<string, string> | undefined;
  if (headers && storedHeaders) {
    out.headers = Object.fromEntries(
      Object.entries(headers).map(([h, v]) => {
        const stored = storedHeaders[h];
        return [h, stored !== undefined && v === maskSecret(stored) ? stored : v];
      }),
    );
  }
  return out;
}

const present = (row: AgentRow) => ({
  id: row.id,
  name: row.name,
  type: row.type,
  config: maskConfig(row.config),
  status: row.status,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

const owned = (userId: string, id: string): SQL =>
  and(eq(agents.id, id), eq(agents.userId, userId), isNull(agents.deletedAt))!;

async function findOwned(db: Database, userId: string, id: string): Promise<AgentRow> {
  if (!UUID_RE.test(id)) throw notFound("Agent");
  const [row] = await db.select().from(agents).where(owned(userId, id));
  if (!row) throw notFound("Agent");
  return row;
}

export interface AgentPolicy {
  allowPrivateTargets: boolean;
}

export async function createAgent(
  db: Database,
  userId: string,
  input: Static<typeof CreateAgentBody>,
  policy: AgentPolicy,
) {
  validateAgentConfig(input.type, input.config, policy.allowPrivateTargets);
  const [row] = await db
    .insert(agents)
    .values({
      userId,
      name: input.name,
      type: input.type,
      config: input.config,
      status: input.status ?? "active",
    })
    .returning();
  return present(row!);
}

export async function getAgent(db: Database, userId: string, id: string) {
  return present(await findOwned(db, userId, id));
}

export async function listAgents(
  db: Database,
  userId: string,
  query: Page & { type?: AgentType | undefined },
) {
  const where = and(
    eq(agents.userId, userId),
    isNull(agents.deletedAt),
    query.type ? eq(agents.type, query.type) : undefined,
  );
  const [rows, total] = await Promise.all([
    db
      .select()
      .from(agents)
      .where(where)
      .orderBy(desc(agents.createdAt), desc(agents.id))
      .limit(query.limit)
      .offset(offsetOf(query)),
    db.$count(agents, where),
  ]);
  return paginated(rows.map(present), total, query);
}

export async function updateAgent(
  db: Database,
  userId: string,
  id: string,
  input: Static<typeof UpdateAgentBody>,
  policy: AgentPolicy,
) {
  const current = await findOwned(db, userId, id);
  const type = input.type ?? current.type;
  let config = current.config;
  if (input.config) config = keepMaskedSecrets(input.config, current.config);
  if (input.config || input.type) validateAgentConfig(type, config, policy.allowPrivateTargets);
  const [row] = await db
    .update(agents)
    .set({
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.status !== undefined ? { status: input.status } : {}),
      type,
      config,
      updatedAt: sql`now()`,
    })
    .where(owned(userId, id))
    .returning();
  if (!row) throw notFound("Agent");
  return present(row);
}

/** Soft-deletes the agent (past sessions stay readable) and stops its running sessions. */
export async function deleteAgent(db: Database, userId: string, id: string) {
  if (!UUID_RE.test(id)) throw notFound("Agent");
  await db.transaction(async (tx) => {
    const [row] = await tx
      .update(agents)
      .set({ deletedAt: sql`now()`, updatedAt: sql`now()` })
      .where(owned(userId, id))
      .returning({ id: agents.id });
    if (!row) throw notFound("Agent");
    // Its running sessions stop like any other (events included); their transcripts stay.
    const running = await tx
      .select({ id: sessions.id })
      .from(sessions)
      .where(and(eq(sessions.agentId, id), inArray(sessions.status, ["pending", "active"])));
    for (const session of running)
      await endIn(tx, session.id, { reason: "agent_deleted", detail: "agent deleted" });
  });
}
