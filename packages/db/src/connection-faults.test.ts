// The server ends Mimic's connections (pg_terminate_backend, as a restart or a failover would). PostgreSQL only:
// PGlite has no connections to lose. Pins the patched postgres.js (patches/postgres@3.4.9.patch): unpatched, a
// transaction's rollback written to a closed socket throws from a timer and ends the process.
import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { createDb, type MimicDb } from "./client.js";
import { createTestDb, type TestDb } from "./testing.js";

const open: (MimicDb | TestDb)[] = [];
afterEach(async () => {
  for (const db of open.splice(0).reverse()) await db.close();
});

async function terminateOthers(killer: MimicDb) {
  const rows = await killer.rows<{ ok: boolean }>(
    sql`select pg_terminate_backend(pid) as ok from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid()`,
  );
  return rows.filter((row) => row.ok).length;
}

describe.skipIf(!process.env.DATABASE_URL)("connections terminated by the server", () => {
  it("fail only the transactions they carried; every pooled connection works afterwards", async () => {
    const testDb = await createTestDb();
    const mimicDb = createDb({ url: testDb.url, maxConnections: 4 });
    const killer = createDb({ url: testDb.url, maxConnections: 1 });
    open.push(testDb, mimicDb, killer);
    let stop = false;
    let ok = 0;
    let failed = 0;
    const worker = async () => {
      while (!stop) {
        try {
          await mimicDb.db.transaction(async (tx) => {
            await tx.execute(sql`select 1`);
            await tx.execute(sql`select pg_sleep(0.01)`);
            await tx.execute(sql`select 2`);
          });
          ok++;
        } catch {
          failed++;
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    for (let round = 0; round < 20; round++) {
      await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 100));
      await terminateOthers(killer);
    }
    stop = true;
    await Promise.all(workers);
    expect(failed).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(failed);
    // No connection kept the state of its dead socket: all of them answer (reconnecting once).
    const after = await Promise.allSettled(
      Array.from({ length: 40 }, () => mimicDb.db.transaction((tx) => tx.execute(sql`select 1`))),
    );
    expect(after.filter((result) => result.status === "rejected")).toEqual([]);
  });

  it("tell a listener its LISTEN dropped, restore it within a second or so, and deliver again", async () => {
    const testDb = await createTestDb();
    const mimicDb = createDb({ url: testDb.url });
    const killer = createDb({ url: testDb.url, maxConnections: 1 });
    open.push(testDb, mimicDb, killer);
    const hooks: string[] = [];
    const payloads: string[] = [];
    await mimicDb.listen("mimic_test", (payload) => payloads.push(payload), {
      onDown: () => hooks.push("down"),
      onRestored: () => hooks.push("restored"),
    });
    expect(await terminateOthers(killer)).toBeGreaterThanOrEqual(1);
    await expect.poll(() => hooks, { timeout: 3_000 }).toEqual(["down", "restored"]);
    await mimicDb.db.execute(sql`select pg_notify('mimic_test', 'after the drop')`);
    await expect.poll(() => payloads).toEqual(["after the drop"]);
  });
});
