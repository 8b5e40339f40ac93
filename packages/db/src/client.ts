// createDb(): one Drizzle API over embedded PGlite (default) or a real PostgreSQL server (DATABASE_URL).
import { mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { type SQL, sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import * as schema from "./schema/index.js";

export type Schema = typeof schema;
/** The Drizzle database every service receives, whichever driver is behind it. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction or the database itself: services accept either. */
export type Executor = Pick<
  Database,
  "select" | "insert" | "update" | "delete" | "execute" | "transaction" | "$count"
>;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../drizzle", import.meta.url));

export interface CreateDbOptions {
  /** postgres:// URL of a real server. Without it, PGlite is used. */
  url?: string | undefined;
  /** PGlite data directory; `"memory"` (or omitted) keeps everything in memory. */
  dataDir?: string | undefined;
  /** An already-open PGlite instance (tests clone a migrated template). */
  pglite?: PGlite | undefined;
  /** postgres.js pool size. */
  maxConnections?: number | undefined;
  /** Called when the server reports a notice; silent by default. */
  onNotice?: ((message: string) => void) | undefined;
}

export interface MimicDb {
  db: Database;
  driver: "pglite" | "postgres";
  /** Applies pending migrations (idempotent). */
  migrate(): Promise<void>;
  /** Runs a query and returns its rows, whichever driver is behind it. */
  rows<T extends Record<string, unknown>>(query: SQL): Promise<T[]>;
  /** Subscribes to a LISTEN/NOTIFY channel; resolves to an unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** Releases every connection (or the embedded instance). */
  close(): Promise<void>;
}

export function createDb(options: CreateDbOptions = {}): MimicDb {
  return options.url ? createPostgresDb(options.url, options) : createPgliteDb(options);
}

function createPgliteDb(options: CreateDbOptions): MimicDb {
  let client = options.pglite;
  if (!client) {
    const dir = options.dataDir && options.dataDir !== "memory" ? options.dataDir : undefined;
    if (dir) mkdirSync(dir, { recursive: true });
    client = new PGlite(dir);
  }
  const pg = client;
  const db = drizzlePglite(pg, { schema, casing: "snake_case" }) as unknown as Database;
  return {
    db,
    driver: "pglite",
    migrate: () => migratePglite(db as never, { migrationsFolder: MIGRATIONS_FOLDER }),
    async rows<T>(query: SQL) {
      const result = (await db.execute(query)) as unknown as { rows: T[] };
      return result.rows;
    },
    async listen(channel, onPayload) {
      const unlisten = await pg.listen(channel, onPayload);
      return async () => {
        // A closed instance has no listeners left to remove.
        if (!pg.closed) await unlisten();
      };
    },
    async close() {
      if (!pg.closed) await pg.close();
    },
  };
}

function createPostgresDb(url: string, options: CreateDbOptions): MimicDb {
  const client = postgres(url, {
    max: options.maxConnections ?? 10,
    onnotice: (notice) => options.onNotice?.(String(notice.message)),
    // Dates and JSON are parsed by Drizzle's column mappers.
  });
  const db = drizzlePostgres(client, { schema, casing: "snake_case" }) as unknown as Database;
  return {
    db,
    driver: "postgres",
    migrate: () => migratePostgres(db as never, { migrationsFolder: MIGRATIONS_FOLDER }),
    async rows<T>(query: SQL) {
      return (await db.execute(query)) as unknown as T[];
    },
    async listen(channel, onPayload) {
      const { unlisten } = await client.listen(channel, onPayload);
      return unlisten;
    },
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}

/** Rows of a `db.execute()` result, whichever driver produced it (PGlite: `{rows}`, postgres.js: an array). */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : ((result as { rows?: T[] }).rows ?? [])) as T[];
}

interface Journal {
  entries: { tag: string; when: number }[];
}

/** How many migrations ship with this build, and how many the database has applied. */
export async function migrationStatus(mimicDb: MimicDb): Promise<{ expected: number; applied: number }> {
  const journal = JSON.parse(readFileSync(`${MIGRATIONS_FOLDER}/meta/_journal.json`, "utf8")) as Journal;
  const exists = await mimicDb.rows<{ present: boolean }>(
    sql`select to_regclass('drizzle.__drizzle_migrations') is not null as present`,
  );
  if (!exists[0]?.present) return { expected: journal.entries.length, applied: 0 };
  const applied = await mimicDb.rows<{ n: number }>(
    sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
  );
  return { expected: journal.entries.length, applied: Number(applied[0]?.n ?? 0) };
}
