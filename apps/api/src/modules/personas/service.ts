import { type Database, personas, type SessionCheck, sessions } from "@mimic/db";
import type { Static } from "@sinclair/typebox";
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { endIn } from "../../engine/session-store.js";
import { AppError, type ErrorDetail, notFound, validationError } from "../../errors.js";
import {
  LLM_REQUIRED,
  type LlmAvailability,
  llmJudgeDetails,
  validateCheckPatterns,
} from "../../lib/checks.js";
import { offsetOf, type Page, paginated } from "../../lib/pagination.js";
import { UUID_RE } from "../../lib/schemas.js";
import {
  type CreatePersonaBody,
  MAX_PERSONA_BYTES,
  MAX_TRAITS_BYTES,
  PERSONA_PAGE_MAX,
  type UpdatePersonaBody,
} from "./schemas.js";

const columns = {
  id: personas.id,
  name: personas.name,
  description: personas.description,
  prompt: personas.prompt,
  traits: personas.traits,
  config: personas.config,
  goal: personas.goal,
  script: personas.script,
  provider: personas.provider,
  model: personas.model,
  temperature: personas.temperature,
  seed: personas.seed,
  checks: personas.checks,
  createdAt: personas.createdAt,
  updatedAt: personas.updatedAt,
};

/** `temperature` is a PostgreSQL real: send the value it will hold (1e-50 is an underflow error there, not 0). */
const asStored = <T extends { temperature?: number | null | undefined }>(input: T): T =>
  typeof input.temperature === "number" ? { ...input, temperature: Math.fround(input.temperature) } : input;

const owned = (userId: string, id: string) =>
  and(eq(personas.id, id), eq(personas.userId, userId), isNull(personas.deletedAt));

/** What an `openai` persona or an `llm_judge` check would need at run time, refused when it is saved. */
function requireLlm(
  input: { provider?: string | undefined; checks?: SessionCheck[] | undefined },
  options: LlmAvailability,
) {
  if (options.llmConfigured) return;
  const details: ErrorDetail[] = [
    ...(input.provider === "openai" ? [{ field: "provider", message: `openai ${LLM_REQUIRED}` }] : []),
    ...llmJudgeDetails(input.checks),
  ];
  if (details.length > 0) throw new AppError("VALIDATION_ERROR", `This persona ${LLM_REQUIRED}`, details);
}

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value ?? null));

/** The caps a schema cannot express: traits and the whole persona, in bytes of JSON. */
function checkSizes(persona: Record<string, unknown>) {
  if (jsonBytes(persona.traits) > MAX_TRAITS_BYTES)
    throw validationError("traits", `must be at most ${MAX_TRAITS_BYTES} bytes of JSON`);
  const sizes = Object.entries(persona)
    .filter(([field]) => field in columns && !["id", "createdAt", "updatedAt"].includes(field))
    .map(([field, value]) => [field, jsonBytes(value)] as const);
  const total = sizes.reduce((sum, [, bytes]) => sum + bytes, 0);
  if (total <= MAX_PERSONA_BYTES) return;
  const [largest, bytes] = sizes.reduce((a, b) => (b[1] > a[1] ? b : a));
  throw validationError(
    largest,
    `the persona would take ${total} bytes of JSON, over the ${MAX_PERSONA_BYTES} allowed for all its fields together (${largest}: ${bytes}); shorten it`,
  );
}

export async function createPersona(
  db: Database,
  userId: string,
  input: Static<typeof CreatePersonaBody>,
  options: LlmAvailability,
) {
  requireLlm(input, options);
  checkSizes(input);
  await validateCheckPatterns(db, input.checks);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(personas)
      .values({ ...asStored(input), userId })
      .returning(columns);
    // As stored, defaults included: what a later update is measured against.
    checkSizes(row!);
    return row!;
  });
}

/** The query behind GET /api/personas/{id}, built once per database (the busiest read of the API). */
const byIdQueries = new WeakMap<Database, ReturnType<typeof prepareById>>();
const prepareById = (db: Database) =>
  db
    .select(columns)
    .from(personas)
    .where(
      and(
        eq(personas.id, sql.placeholder("id")),
        eq(personas.userId, sql.placeholder("userId")),
        isNull(personas.deletedAt),
      ),
    )
    .prepare("mimic_get_persona");

export async function getPersona(db: Database, userId: string, id: string) {
  if (!UUID_RE.test(id)) throw notFound("Persona");
  let query = byIdQueries.get(db);
  if (!query) {
    query = prepareById(db);
    byIdQueries.set(db, query);
  }
  const [row] = await query.execute({ id, userId });
  if (!row) throw notFound("Persona");
  return row;
}

/** A page holds at most PERSONA_PAGE_MAX personas (a larger `limit` is lowered, and says so in `pagination`). */
export async function listPersonas(db: Database, userId: string, query: Page) {
  const page = { page: query.page, limit: Math.min(query.limit, PERSONA_PAGE_MAX) };
  const where = and(eq(personas.userId, userId), isNull(personas.deletedAt));
  const [rows, total] = await Promise.all([
    db
      .select(columns)
      .from(personas)
      .where(where)
      .orderBy(desc(personas.createdAt), desc(personas.id))
      .limit(page.limit)
      .offset(offsetOf(page)),
    db.$count(personas, where),
  ]);
  return paginated(rows, total, page);
}

export async function updatePersona(
  db: Database,
  userId: string,
  id: string,
  input: Static<typeof UpdatePersonaBody>,
  options: LlmAvailability,
) {
  if (!UUID_RE.test(id)) throw notFound("Persona");
  requireLlm(input, options);
  if (input.traits !== undefined) checkSizes({ traits: input.traits });
  await validateCheckPatterns(db, input.checks);
  // The size of the persona as changed is known once merged: checked inside the update, undone when too large.
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(personas)
      .set({ ...asStored(input), updatedAt: sql`now()` })
      .where(owned(userId, id))
      .returning(columns);
    if (!row) throw notFound("Persona");
    checkSizes(row);
    return row;
  });
}

/** Soft-deletes the persona (past sessions stay readable) and stops its running sessions. */
export async function deletePersona(db: Database, userId: string, id: string) {
  if (!UUID_RE.test(id)) throw notFound("Persona");
  await db.transaction(async (tx) => {
    const [row] = await tx
      .update(personas)
      .set({ deletedAt: sql`now()`, updatedAt: sql`now()` })
      .where(owned(userId, id))
      .returning({ id: personas.id });
    if (!row) throw notFound("Persona");
    // Its running sessions stop like any other (events included); their transcripts stay.
    const running = await tx
      .select({ id: sessions.id })
      .from(sessions)
      .where(and(eq(sessions.personaId, id), inArray(sessions.status, ["pending", "active"])));
    for (const session of running)
      await endIn(tx, session.id, { reason: "persona_deleted", detail: "persona deleted" });
  });
}
