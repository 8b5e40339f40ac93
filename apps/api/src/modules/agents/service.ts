import { validateHeaderValue } from "node:http";
import {
  type AgentConfig,
  type AgentType,
  agents,
  type Database,
  sessions,
  type TypedAgentConfig,
  type VoiceAgentConfig,
  type WebhookAgentConfig,
  type WebsocketAgentConfig,
  type WhatsappAgentConfig,
} from "@mimic/db";
import type { Static } from "@sinclair/typebox";
import type { ErrorObject, ValidateFunction } from "ajv";
import { and, asc, desc, eq, gt, inArray, isNull, type SQL, sql } from "drizzle-orm";
import { verifyAgentWebhook } from "../../channels/whatsapp/webhook.js";
import type { OutboundPolicy } from "../../engine/outbound.js";
import { endIn } from "../../engine/session-store.js";
import { AppError, type ErrorDetail, notFound } from "../../errors.js";
import { bodyAjv } from "../../lib/ajv.js";
import { isPrivateUrlHost, isReservedHeader } from "../../lib/outbound.js";
import { offsetOf, type Page, paginated } from "../../lib/pagination.js";
import { UUID_RE } from "../../lib/schemas.js";
import {
  AGENT_SECRET_FIELDS,
  keyringOf,
  mapSecrets,
  openSecret,
  resealAgentConfig,
  SecretKeyError,
  sealAgentConfig,
} from "../../lib/secrets.js";
import { validationDetails } from "../../plugins/errors.js";
import {
  type CreateAgentBody,
  type UpdateAgentBody,
  VoiceAgentConfigSchema,
  WebhookAgentConfigSchema,
  WebsocketAgentConfigSchema,
  WhatsappAgentConfigSchema,
} from "./schemas.js";

type AgentRow = typeof agents.$inferSelect;

// PUT may change `config` without `type`: the config is then checked here, against the type that applies.
const validators = {
  webhook: bodyAjv.compile<WebhookAgentConfig>(WebhookAgentConfigSchema),
  websocket: bodyAjv.compile<WebsocketAgentConfig>(WebsocketAgentConfigSchema),
  whatsapp: bodyAjv.compile<WhatsappAgentConfig>(WhatsappAgentConfigSchema),
  voice: bodyAjv.compile<VoiceAgentConfig>(VoiceAgentConfigSchema),
};

/** Secrets sent masked while the URL moved to another host: they were dropped, and say so if required. */
const RESEND = "was sent masked, but the URL now points at another host: send the secret again";

function accept<C>(
  type: AgentType,
  validate: ValidateFunction<C>,
  config: unknown,
  dropped: readonly string[],
): C {
  if (validate(config)) return config;
  const details = validationDetails((validate.errors ?? []) as ErrorObject[]).map((d) => {
    const field = d.field === "request" ? "config" : `config.${d.field}`;
    const resend = dropped.includes(d.field) && d.message.endsWith("is required");
    return { field, message: resend ? RESEND : d.message };
  });
  throw new AppError("VALIDATION_ERROR", `Invalid config for a ${type} agent`, details);
}

/** `config` checked against the schema of `type`; 422 naming `config.<field>` otherwise. */
export function typedConfig(
  type: AgentType,
  config: unknown,
  dropped: readonly string[] = [],
): TypedAgentConfig {
  switch (type) {
    case "webhook":
      return { type, config: accept(type, validators.webhook, config, dropped) };
    case "websocket":
      return { type, config: accept(type, validators.websocket, config, dropped) };
    case "whatsapp":
      return { type, config: accept(type, validators.whatsapp, config, dropped) };
    case "voice":
      return { type, config: accept(type, validators.voice, config, dropped) };
  }
}

export interface AgentPolicy {
  allowPrivateTargets: boolean;
  /** How Mimic calls the bot (timeouts, private targets): for the WhatsApp verification handshake. */
  outbound?: OutboundPolicy;
}

/**
 * Meta verifies a WhatsApp webhook when it is registered, and so does Mimic: an agent saved with a `verify_token`,
 * or whose webhook or token changed, must echo the challenge, or the save is a 422 that says why.
 */
async function verifyRegistration(
  before: Record<string, unknown> | undefined,
  agent: TypedAgentConfig,
  policy: AgentPolicy,
) {
  if (agent.type !== "whatsapp" || !policy.outbound) return;
  const config = agent.config as { webhook_url: string; verify_token?: string | undefined };
  if (!config.verify_token) return;
  if (before && before.webhook_url === config.webhook_url && before.verify_token === config.verify_token)
    return;
  try {
    await verifyAgentWebhook(config, policy.outbound);
  } catch (error) {
    throw new AppError("VALIDATION_ERROR", "The bot's webhook did not pass Meta's verification request", [
      { field: "config.webhook_url", message: (error as Error).message },
    ]);
  }
}

/** What the schema cannot say: targets outside the server's network, and headers that stay Mimic's. */
function checkOutbound(agent: TypedAgentConfig, policy: AgentPolicy) {
  const details: ErrorDetail[] = [];
  const { config } = agent;
  const url = "webhook_url" in config ? config.webhook_url : "url" in config ? config.url : undefined;
  const urlField = "webhook_url" in config ? "webhook_url" : "url";
  if (url !== undefined && !policy.allowPrivateTargets && isPrivateUrlHost(url)) {
    details.push({
      field: `config.${urlField}`,
      message:
        "points at a private, loopback, link-local or reserved address (set MIMIC_ALLOW_PRIVATE_TARGETS=true to allow)",
    });
  }
  if (agent.type === "webhook" || agent.type === "websocket") {
    // A WebSocket agent's api_key is sent as `Authorization: Bearer …`: a header may not say otherwise.
    const bearer = agent.type === "websocket" && agent.config.api_key !== undefined;
    for (const [name, value] of Object.entries(agent.config.headers ?? {})) {
      if (isReservedHeader(name, bearer)) {
        details.push({
          field: `config.headers.${name}`,
          message:
            name.toLowerCase() === "authorization"
              ? "is set from api_key: leave it out, or leave out api_key"
              : "is a transport header Mimic sets itself; it cannot be overridden",
        });
        continue;
      }
      try {
        validateHeaderValue(name, value);
      } catch {
        details.push({
          field: `config.headers.${name}`,
          message: "contains characters a header cannot carry",
        });
      }
    }
  }
  if (details.length > 0) throw new AppError("VALIDATION_ERROR", "Invalid request data", details);
}

export const maskSecret = (value: string) => (value.length >= 8 ? `****${value.slice(-4)}` : "****");

/** A copy of the stored config with every secret (and every custom header value) decrypted and masked. */
function maskConfig<C extends AgentConfig>(db: Database, config: C): C {
  return mapSecrets(config, (value) => {
    try {
      return maskSecret(openSecret(() => keyringOf(db), value));
    } catch (error) {
      if (error instanceof SecretKeyError) return "****";
      throw error;
    }
  });
}

/** The origin (scheme, host, port) the config sends to; secrets belong to it. */
function targetOf(config: Record<string, unknown>): string | undefined {
  const url = config.webhook_url ?? config.url;
  if (typeof url !== "string") return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * A secret sent back exactly as it was shown (masked) keeps its stored value, so GET → PUT round-trips — as long as
 * the config still sends to the same origin. Pointed elsewhere, masked secrets are dropped (`dropped` names them):
 * a stored secret never follows a URL to a new host unless it is sent again.
 */
function keepMaskedSecrets(
  next: Record<string, unknown>,
  previous: Record<string, unknown>,
): { config: Record<string, unknown>; dropped: string[] } {
  const sameTarget = targetOf(next) === targetOf(previous);
  const out = { ...next };
  const dropped: string[] = [];
  for (const key of AGENT_SECRET_FIELDS) {
    const stored = previous[key];
    if (typeof out[key] !== "string" || typeof stored !== "string" || out[key] !== maskSecret(stored))
      continue;
    if (sameTarget) out[key] = stored;
    else {
      delete out[key];
      dropped.push(key);
    }
  }
  const headers = out.headers;
  const storedHeaders = previous.headers;
  if (headers && typeof headers === "object" && storedHeaders && typeof storedHeaders === "object") {
    const kept: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(headers)) {
      const stored = (storedHeaders as Record<string, unknown>)[name];
      if (typeof stored !== "string" || value !== maskSecret(stored)) kept[name] = value;
      else if (sameTarget) kept[name] = stored;
      else dropped.push(`headers.${name}`);
    }
    // Every header was a dropped secret: no `headers` at all rather than an empty object.
    if (Object.keys(kept).length > 0 || Object.keys(headers).length === 0) out.headers = kept;
    else delete out.headers;
  }
  return { config: out, dropped };
}

/** The stored config with the secrets that open in plaintext; those that do not open are left out. */
function openReadable(db: Database, config: AgentConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const key of AGENT_SECRET_FIELDS) {
    const value = out[key];
    if (typeof value !== "string") continue;
    try {
      out[key] = openSecret(() => keyringOf(db), value);
    } catch {
      delete out[key];
    }
  }
  if (config && "headers" in config && config.headers) {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(config.headers)) {
      try {
        headers[name] = openSecret(() => keyringOf(db), value);
      } catch {
        // Not readable: it cannot be kept by a masked round-trip.
      }
    }
    out.headers = headers;
  }
  return out;
}

/** A row's type and config as one value (they were validated together when written). */
const typedRow = (row: AgentRow, config: AgentConfig) => ({ type: row.type, config }) as TypedAgentConfig;

const present = (db: Database, row: AgentRow) => ({
  id: row.id,
  name: row.name,
  ...typedRow(row, maskConfig(db, row.config)),
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

/** Creates an agent. The request schema has checked `config` against its `type` already. */
export async function createAgent(
  db: Database,
  userId: string,
  input: Static<typeof CreateAgentBody>,
  policy: AgentPolicy,
) {
  checkOutbound(input, policy);
  await verifyRegistration(undefined, input as TypedAgentConfig, policy);
  const [row] = await db
    .insert(agents)
    .values({
      userId,
      name: input.name,
      type: input.type,
      config: sealAgentConfig(db, input.config),
      status: input.status ?? "active",
    })
    .returning();
  return present(db, row!);
}

export async function getAgent(db: Database, userId: string, id: string) {
  return present(db, await findOwned(db, userId, id));
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
  return paginated(
    rows.map((row) => present(db, row)),
    total,
    query,
  );
}

/**
 * Updates an agent. A new `config` is checked against the type that applies (the stored one unless `type` changes
 * too); a new `type` alone re-checks the stored config against it.
 */
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
  if (input.config) {
    const { config: next, dropped } = keepMaskedSecrets(input.config, openReadable(db, current.config));
    const typed = typedConfig(type, next, dropped);
    checkOutbound(typed, policy);
    await verifyRegistration(
      current.type === "whatsapp" ? openReadable(db, current.config) : undefined,
      typed,
      policy,
    );
    config = sealAgentConfig(db, typed.config);
  } else if (input.type) {
    checkOutbound(typedConfig(type, openReadable(db, current.config)), policy);
  }
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
  return present(db, row);
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

const undefinedTable = (error: unknown): boolean => {
  for (let e = error, depth = 0; e && depth < 5; depth++, e = (e as { cause?: unknown }).cause)
    if ((e as { code?: unknown }).code === "42P01") return true;
  return false;
};

/**
 * The start-up pass: every agent secret not yet encrypted with the current key — plaintext written before
 * encryption, or encrypted with a previous key — is encrypted with it. Idempotent, safe to run in several processes
 * at once (a row changed meanwhile is left to its writer), and the same on PGlite and PostgreSQL.
 */
export async function sealStoredSecrets(db: Database): Promise<{ sealed: number; unreadable: number }> {
  try {
    // No agents (a new database, or one not migrated yet as when `pnpm gen` builds the app): no key needed.
    if ((await db.select({ id: agents.id }).from(agents).limit(1)).length === 0)
      return { sealed: 0, unreadable: 0 };
  } catch (error) {
    if (undefinedTable(error)) return { sealed: 0, unreadable: 0 };
    throw error;
  }
  const current = `enc:v1:${keyringOf(db).currentId}:%`;
  const secretFields = sql.join(
    AGENT_SECRET_FIELDS.map((field) => sql`${field}`),
    sql`, `,
  );
  const objectOr = (value: SQL) =>
    sql`case when jsonb_typeof(${value}) = 'object' then ${value} else '{}'::jsonb end`;
  const needsWork = sql`(
    exists (select 1 from jsonb_each_text(${objectOr(sql`${agents.config}`)}) as e
      where e.key in (${secretFields}) and e.value not like ${current})
    or exists (select 1 from jsonb_each_text(${objectOr(sql`${agents.config} -> 'headers'`)}) as h
      where h.value not like ${current})
  )`;
  let sealed = 0;
  let unreadable = 0;
  let after: string | undefined;
  for (;;) {
    const rows = await db
      .select({ id: agents.id, config: agents.config })
      .from(agents)
      .where(after ? and(gt(agents.id, after), needsWork) : needsWork)
      .orderBy(asc(agents.id))
      .limit(200);
    for (const row of rows) {
      let next: AgentConfig;
      try {
        next = resealAgentConfig(db, row.config);
      } catch (error) {
        if (!(error instanceof SecretKeyError)) throw error;
        unreadable++;
        continue;
      }
      const changed = await db
        .update(agents)
        .set({ config: next })
        .where(and(eq(agents.id, row.id), sql`${agents.config} = ${JSON.stringify(row.config)}::jsonb`))
        .returning({ id: agents.id });
      sealed += changed.length;
    }
    if (rows.length < 200) break;
    after = rows[rows.length - 1]!.id;
  }
  return { sealed, unreadable };
}
