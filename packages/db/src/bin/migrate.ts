// `pnpm db:migrate`: applies pending migrations to DATABASE_URL, or to the PGlite data dir.
import { createDb, migrationStatus } from "../client.js";

const url = process.env.DATABASE_URL || undefined;
const dataDir = process.env.MIMIC_DATA_DIR ? `${process.env.MIMIC_DATA_DIR}/pg` : ".mimic/data/pg";
const mimicDb = createDb(url ? { url } : { dataDir });
try {
  await mimicDb.migrate();
  const status = await migrationStatus(mimicDb);
  console.log(`migrations applied: ${status.applied}/${status.expected} (${url ? "postgres" : dataDir})`);
} finally {
  await mimicDb.close();
}
