import { apiKeys, type Database } from "@mimic/db";
import { and, desc, eq } from "drizzle-orm";
import { notFound } from "../../errors.js";
import { generateApiKey } from "../../lib/api-key-tokens.js";
import { offsetOf, type Page, paginated } from "../../lib/pagination.js";
import { UUID_RE } from "../../lib/schemas.js";

const columns = {
  id: apiKeys.id,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  createdAt: apiKeys.createdAt,
  lastUsedAt: apiKeys.lastUsedAt,
  expiresAt: apiKeys.expiresAt,
};

export async function createApiKey(
  db: Database,
  userId: string,
  input: { name: string; expiresInDays?: number | undefined },
) {
  const { key, prefix, hash } = generateApiKey();
  const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null;
  const [row] = await db
    .insert(apiKeys)
    .values({ userId, name: input.name, prefix, keyHash: hash, expiresAt })
    .returning(columns);
  return { ...row!, key };
}

export async function listApiKeys(db: Database, userId: string, page: Page) {
  const where = eq(apiKeys.userId, userId);
  const [rows, total] = await Promise.all([
    db
      .select(columns)
      .from(apiKeys)
      .where(where)
      .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
      .limit(page.limit)
      .offset(offsetOf(page)),
    db.$count(apiKeys, where),
  ]);
  return paginated(rows, total, page);
}

/** Revokes (deletes) a key; it stops authenticating immediately. */
export async function revokeApiKey(db: Database, userId: string, id: string) {
  if (!UUID_RE.test(id)) throw notFound("API key");
  const deleted = await db
    .delete(apiKeys)
    .where(and(eq(apiKeys.id, id), eq(apiKeys.userId, userId)))
    .returning({ id: apiKeys.id });
  if (deleted.length === 0) throw notFound("API key");
}
