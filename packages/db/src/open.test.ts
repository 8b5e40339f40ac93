import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { migrationStatus } from "./client.js";
import { openDb } from "./open.js";
import { users } from "./schema/index.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe("openDb (embedded)", () => {
  it("starts a new data directory migrated, and reopens an existing one with its data", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mimic-open-"));
    dirs.push(dir);
    const first = await openDb({ dataDir: join(dir, "pg") });
    try {
      const status = await migrationStatus(first);
      expect(status.applied).toBe(status.expected);
      await first.db.insert(users).values({ email: "kept@example.com", passwordHash: "x" });
    } finally {
      await first.close();
    }
    // Not replaced by the template: it only seeds directories that hold nothing yet.
    const again = await openDb({ dataDir: join(dir, "pg") });
    try {
      expect((await again.db.select().from(users)).map((u) => u.email)).toEqual(["kept@example.com"]);
    } finally {
      await again.close();
    }
  });

  it("gives every new database its own copy", async () => {
    const a = await openDb({ dataDir: "memory" });
    const b = await openDb({ dataDir: "memory" });
    try {
      await a.db.insert(users).values({ email: "a@example.com", passwordHash: "x" });
      expect(await a.db.$count(users)).toBe(1);
      expect(await b.db.$count(users)).toBe(0);
      const status = await migrationStatus(b);
      expect(status.applied).toBe(status.expected);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
