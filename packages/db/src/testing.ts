// Isolated databases for tests: every call gets its own freshly migrated database.
// PGlite: a migrated in-memory template per process, cloned per test (a clone costs a fraction of a boot).
// PostgreSQL (DATABASE_URL set): a migrated template database, copied with CREATE DATABASE … TEMPLATE.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { createDb, MIGRATIONS_FOLDER, type MimicDb } from "./client.js";
import { migratedPglite } from "./open.js";

let pgliteTemplate: Promise<PGlite> | undefined;

async function migratedPgliteTemplate(): Promise<PGlite> {
  // Unpacked from the cached migrated tarball when there is one (see openDb): far cheaper than initdb.
  pgliteTemplate ??= migratedPglite();
  return pgliteTemplate;
}

function migrationsFingerprint(): string {
  const journal = readFileSync(`${MIGRATIONS_FOLDER}/meta/_journal.json`, "utf8");
  let hash = 0;
  for (const ch of journal) hash = (Math.imul(hash, 31) + ch.charCodeAt(0)) | 0;
  return (hash >>> 0).toString(36);
}

const templates = new Map<string, Promise<string>>();

/** Creates (once per server and migration set) a migrated template database and returns its name. */
async function ensurePostgresTemplate(url: string): Promise<string> {
  const name = `mimic_template_${migrationsFingerprint()}`;
  let ready = templates.get(url);
  if (!ready) {
    ready = (async () => {
      const admin = postgres(url, { max: 1, onnotice: () => {} });
      try {
        // Several test workers may race to build the template: serialize them on an advisory lock.
        await admin`select pg_advisory_lock(727274)`;
        // Never connected to once built: CREATE DATABASE … TEMPLATE fails while anyone else is connected to it.
        const [found] = await admin`select 1 from pg_database where datname = ${name}`;
        if (!found) {
          // Built under another name and renamed once migrated: a run that dies halfway leaves no template behind.
          const building = `${name}_building_${randomBytes(4).toString("hex")}`;
          await admin.unsafe(`create database "${building}"`);
          try {
            const migrator = createDb({ url: withDatabase(url, building), maxConnections: 1 });
            try {
              await migrator.migrate();
            } finally {
              await migrator.close();
            }
            await admin.unsafe(`alter database "${building}" rename to "${name}"`);
          } catch (error) {
            await admin.unsafe(`drop database if exists "${building}" with (force)`);
            throw error;
          }
        }
        await admin`select pg_advisory_unlock(727274)`;
      } finally {
        await admin.end({ timeout: 5 });
      }
      return name;
    })();
    templates.set(url, ready);
  }
  return ready;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TestDb extends MimicDb {
  /** The URL of the test's own database (PostgreSQL only): lets a child process share it. */
  url?: string | undefined;
}

/** A fresh, migrated, isolated database. Close it at the end of the test; it is then dropped. */
export async function createTestDb(options: { url?: string | undefined } = {}): Promise<TestDb> {
  const url = options.url ?? process.env.DATABASE_URL;
  if (!url) {
    const template = await migratedPgliteTemplate();
    return createDb({ pglite: (await template.clone()) as PGlite });
  }
  const template = await ensurePostgresTemplate(url);
  const name = `mimic_test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}" template "${template}"`);
  } finally {
    await admin.end({ timeout: 5 });
  }
  const testUrl = withDatabase(url, name);
  const mimicDb = createDb({ url: testUrl, maxConnections: 5 });
  return {
    ...mimicDb,
    url: testUrl,
    async close() {
      await mimicDb.close();
      const dropper = postgres(url, { max: 1, onnotice: () => {} });
      try {
        await dropper.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await dropper.end({ timeout: 5 });
      }
    },
  };
}
