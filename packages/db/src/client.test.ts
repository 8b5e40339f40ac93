import { sql } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { migrationStatus } from "./client.js";
import { users } from "./schema/index.js";
import { createTestDb, type TestDb } from "./testing.js";

let mimicDb: TestDb | undefined;
afterEach(async () => {
  await mimicDb?.close();
  mimicDb = undefined;
});

describe("createTestDb", () => {
  it("returns a migrated database whose migration count matches the journal", async () => {
    mimicDb = await createTestDb();
    const status = await migrationStatus(mimicDb);
    expect(status.expected).toBeGreaterThan(0);
    expect(status.applied).toBe(status.expected);
  });

  it("isolates databases from each other", async () => {
    mimicDb = await createTestDb();
    const other = await createTestDb();
    try {
      await mimicDb.db.insert(users).values({ email: "a@example.com", passwordHash: "x" });
      expect(await mimicDb.db.$count(users)).toBe(1);
      expect(await other.db.$count(users)).toBe(0);
    } finally {
      await other.close();
    }
  });

  it("enforces case-insensitive unique emails", async () => {
    mimicDb = await createTestDb();
    await mimicDb.db.insert(users).values({ email: "a@example.com", passwordHash: "x" });
    await expect(
      mimicDb.db.insert(users).values({ email: "A@example.com", passwordHash: "x" }),
    ).rejects.toThrow();
  });

  it("delivers NOTIFY payloads to listeners", async () => {
    mimicDb = await createTestDb();
    const received: string[] = [];
    const unlisten = await mimicDb.listen("mimic_test", (payload) => received.push(payload));
    await mimicDb.db.execute(sql`select pg_notify('mimic_test', 'hello')`);
    await expect.poll(() => received).toEqual(["hello"]);
    await unlisten();
  });
});
