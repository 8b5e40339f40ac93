// openDb(): a database ready for use — created and migrated. A new embedded database is unpacked from a migrated
// template rather than initialised: PGlite's initdb alone takes 3–5 s, unpacking about 1 s. The template is the
// first new database of a PGlite version and migration set, saved as a tarball in node_modules/.cache/mimic.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { PGlite } from "@electric-sql/pglite";
import { type CreateDbOptions, createDb, MIGRATIONS_FOLDER, type MimicDb } from "./client.js";

/** Creates the database and applies pending migrations; a new embedded one starts from the migrated template. */
export async function openDb(options: CreateDbOptions): Promise<MimicDb> {
  if (options.url || options.pglite || options.loadDataDir) {
    const db = createDb(options);
    try {
      await db.migrate();
    } catch (error) {
      await db.close();
      throw error;
    }
    return db;
  }
  const dir = options.dataDir && options.dataDir !== "memory" ? options.dataDir : undefined;
  return createDb({ ...options, pglite: await migratedPglite(dir) });
}

/**
 * PGlite on `dir` (undefined: in memory), migrated. A new database is unpacked from the template when there is one;
 * otherwise it is initialised, and once migrated saved as the template for the next.
 */
export async function migratedPglite(dir?: string): Promise<PGlite> {
  const fresh = !dir || !existsSync(dir) || readdirSync(dir).length === 0;
  if (dir) mkdirSync(dir, { recursive: true });
  const template = fresh ? readTemplate() : undefined;
  if (template) {
    try {
      return await migrated(new PGlite({ ...(dir ? { dataDir: dir } : {}), loadDataDir: template.tarball }));
    } catch {
      // One this PGlite cannot start from: start from scratch, and replace it.
      rmSync(template.file, { force: true });
      if (dir) {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
      }
    }
  }
  const pg = await migrated(new PGlite(dir ? { dataDir: dir } : {}));
  if (fresh) await saveTemplate(pg);
  return pg;
}

async function migrated(pg: PGlite): Promise<PGlite> {
  try {
    await createDb({ pglite: pg }).migrate();
  } catch (error) {
    await pg.close();
    throw error;
  }
  return pg;
}

interface Journal {
  entries: { tag: string }[];
}

/** Where the template of this PGlite version and these migrations lives; undefined: nowhere to keep one. */
function templateFile(): string | undefined {
  // node_modules/.cache/mimic in the nearest node_modules above this package (find-cache-dir's convention).
  let cache: string | undefined;
  for (let dir = dirname(MIGRATIONS_FOLDER); !cache; dir = dirname(dir)) {
    const modules = basename(dir) === "node_modules" ? dir : join(dir, "node_modules");
    if (existsSync(modules)) cache = join(modules, ".cache", "mimic");
    else if (dirname(dir) === dir) return undefined;
  }
  const require = createRequire(import.meta.url);
  let pglite = dirname(require.resolve("@electric-sql/pglite"));
  while (!existsSync(join(pglite, "package.json")) && dirname(pglite) !== pglite) pglite = dirname(pglite);
  const { version } = JSON.parse(readFileSync(join(pglite, "package.json"), "utf8")) as { version: string };
  // Every migration as it is now: a template built from anything else is not used.
  const journal = readFileSync(join(MIGRATIONS_FOLDER, "meta", "_journal.json"), "utf8");
  const hash = createHash("sha256").update(journal);
  for (const { tag } of (JSON.parse(journal) as Journal).entries)
    hash.update(readFileSync(join(MIGRATIONS_FOLDER, `${tag}.sql`)));
  return join(cache, `pglite-${version}-${hash.digest("hex").slice(0, 16)}.tar.gz`);
}

function readTemplate(): { file: string; tarball: Blob } | undefined {
  try {
    const file = templateFile();
    if (!file || !existsSync(file)) return undefined;
    return { file, tarball: new Blob([readFileSync(file)], { type: "application/gzip" }) };
  } catch {
    return undefined;
  }
}

/** Saves a new, just migrated database as the template; best effort (a read-only cache only costs time). */
async function saveTemplate(pg: PGlite) {
  try {
    const file = templateFile();
    if (!file) return;
    // The data files themselves, so a database unpacked from it starts without replaying the migrations' WAL.
    await pg.exec("checkpoint");
    const tar = new Uint8Array(await (await pg.dumpDataDir("none")).arrayBuffer());
    // 41 MB to 5: zlib's fastest level, off this thread (PGlite's own gzip takes three times as long, on it).
    const tarball = await promisify(gzip)(tar, { level: 1 });
    const dir = dirname(file);
    mkdirSync(dir, { recursive: true });
    // Whole or not at all: other processes may be reading or writing the same template.
    const partial = `${file}.${randomBytes(4).toString("hex")}.partial`;
    writeFileSync(partial, tarball);
    renameSync(partial, file);
    // Templates of other migration sets or PGlite versions are of no further use.
    for (const name of readdirSync(dir))
      if (/^pglite-.*\.tar\.gz$/.test(name) && name !== basename(file))
        rmSync(join(dir, name), { force: true });
  } catch {
    // Not kept: the next new database is initialised too.
  }
}
