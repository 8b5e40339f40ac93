// A fresh, migrated database for one measurement, so no run sees the rows (or dead tuples) of another.
// Without a URL: in-memory PGlite. With a PostgreSQL URL: a throwaway database `mimic_bench_<random>` on that
// server, dropped on close. If the role may not create databases, the URL's own database is used instead and
// the caller deletes what it created (`throwaway: false`, see `cleanup`).
import { randomBytes } from "node:crypto";
import { createDb, type MimicDb, users } from "@mimic/db";
import { eq, sql } from "drizzle-orm";

export interface BenchDb extends MimicDb {
  /** True when close() drops the whole database (PGlite, or a throwaway PostgreSQL database). */
  throwaway: boolean;
  /** "embedded PGlite (in memory)" or "PostgreSQL (…)", for the printed header. */
  label: string;
  /** The database's URL (PostgreSQL only): other processes of a measurement connect to it. */
  url?: string;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function openBenchDb(url: string | undefined, maxConnections = 20): Promise<BenchDb> {
  if (!url) {
    const db = createDb({ dataDir: "memory" });
    await db.migrate();
    return { ...db, throwaway: true, label: "embedded PGlite (in memory)" };
  }
  const name = `mimic_bench_${randomBytes(6).toString("hex")}`;
  const admin = createDb({ url, maxConnections: 1 });
  let created = true;
  try {
    await admin.rows(sql.raw(`create database "${name}"`));
  } catch (error) {
    // 42501: insufficient privilege (no CREATEDB). Anything else is a real problem.
    if ((error as { code?: string }).code !== "42501") throw error;
    created = false;
  } finally {
    await admin.close();
  }
  if (!created) {
    const db = createDb({ url, maxConnections });
    await db.migrate();
    return { ...db, throwaway: false, label: "PostgreSQL (shared database, rows cleaned up)", url };
  }
  const db = createDb({ url: withDatabase(url, name), maxConnections });
  try {
    await db.migrate();
  } catch (error) {
    await dropDatabase(url, name, db);
    throw error;
  }
  return {
    ...db,
    throwaway: true,
    label: `PostgreSQL (throwaway database, pool ${maxConnections})`,
    url: withDatabase(url, name),
    close: () => dropDatabase(url, name, db),
  };
}

async function dropDatabase(url: string, name: string, db: MimicDb) {
  await db.close();
  const admin = createDb({ url, maxConnections: 1 });
  try {
    await admin.rows(sql.raw(`drop database if exists "${name}" with (force)`));
  } finally {
    await admin.close();
  }
}

/** Deletes a bench user and, by cascade, everything it owns (only needed when the database is shared). */
export async function cleanup(db: BenchDb, userIds: string[]) {
  if (db.throwaway) return;
  for (const id of userIds) await db.db.delete(users).where(eq(users.id, id));
}
