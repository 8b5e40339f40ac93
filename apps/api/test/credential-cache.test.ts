// Requests authenticate from memory, without a query: each process keeps users and API keys in a bounded cache that
// the database invalidates (LISTEN/NOTIFY, fed by triggers). A user deleted, a key revoked or its expiry moved, in
// any process or by hand, loses access everywhere within a second; a key past its expiry is refused on time.
import { apiKeys, createDb, type MimicDb, users } from "@mimic/db";
import { eq, sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AUTH_CHANNEL, BoundedMap, CredentialCache } from "../src/lib/credential-cache.js";
import { CREDENTIAL_CACHE_SIZE } from "../src/plugins/auth.js";
import { createTestApp, registerUser, type TestContext, type TestUser } from "./helpers.js";

const onPostgres = Boolean(process.env.DATABASE_URL);
/** What "at once, everywhere" is allowed to take. */
const WITHIN = { timeout: 1000, interval: 10 };

let a: TestContext;
/** Another process on the same database: on PostgreSQL its own pool and its own listener connection. */
let b: FastifyInstance;
let bDb: MimicDb;

beforeAll(async () => {
  a = await createTestApp();
  bDb = a.db.url ? createDb({ url: a.db.url, maxConnections: 5 }) : a.db;
  b = (await createTestApp({}, { db: bDb })).app;
  await b.ready();
});
afterAll(async () => {
  await b?.close();
  if (bDb && bDb !== a.db) await bDb.close();
  await a?.close();
});

const me = (app: FastifyInstance, token: string) =>
  app.inject({ method: "GET", url: "/api/auth/me", headers: { authorization: `Bearer ${token}` } });

async function keyOf(user: TestUser) {
  const res = await a.app.inject({
    method: "POST",
    url: "/api/auth/api-keys",
    headers: user.headers,
    payload: { name: "ci" },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; key: string };
}

/** Resolves once `db`'s listener hears a change to the user's credentials announced (after the caches on it have). */
async function announcement(db: MimicDb, userId: string): Promise<{ heard: Promise<void> }> {
  let heard!: () => void;
  const announced = new Promise<void>((resolve) => {
    heard = resolve;
  });
  const unlisten = await db.listen(AUTH_CHANNEL, (payload) => {
    if (payload === userId) heard();
  });
  // Wrapped: an async function returning the promise itself would wait for it.
  return { heard: announced.finally(unlisten) };
}

/** Renames a user without the database announcing it (triggers off for this transaction). */
async function renameSilently(db: MimicDb, userId: string, name: string) {
  await db.db.transaction(async (tx) => {
    await tx.execute(sql`set local session_replication_role = replica`);
    await tx.update(users).set({ name }).where(eq(users.id, userId));
  });
}

describe("two processes on one database", () => {
  it("authenticate from memory: a change the database does not announce is not seen", async () => {
    const user = await registerUser(a.app);
    expect((await me(b, user.token)).json().name).toBeNull();
    await renameSilently(a.db, user.id, "Renamed quietly");
    expect((await me(b, user.token)).json().name).toBeNull();
    // An announced change is: any update of the user.
    await a.db.db.update(users).set({ name: "Renamed" }).where(eq(users.id, user.id));
    await expect.poll(async () => (await me(b, user.token)).json().name, WITHIN).toBe("Renamed");
  });

  it("answer 401 on B within a second of the user's deletion through A", async () => {
    const user = await registerUser(a.app);
    const { key } = await keyOf(user);
    expect((await me(b, user.token)).statusCode).toBe(200);
    expect((await me(b, key)).statusCode).toBe(200);
    await a.db.db.delete(users).where(eq(users.id, user.id));
    await expect.poll(async () => (await me(b, user.token)).statusCode, WITHIN).toBe(401);
    await expect.poll(async () => (await me(b, key)).statusCode, WITHIN).toBe(401);
  });

  it("answer 401 on B within a second of a key's revocation through A's API", async () => {
    const user = await registerUser(a.app);
    const { id, key } = await keyOf(user);
    const other = await keyOf(user);
    expect((await me(b, key)).statusCode).toBe(200);
    expect((await me(b, other.key)).statusCode).toBe(200);
    const revoked = await a.app.inject({
      method: "DELETE",
      url: `/api/auth/api-keys/${id}`,
      headers: user.headers,
    });
    expect(revoked.statusCode).toBe(204);
    // A revoked the key: it knows at once.
    expect((await me(a.app, key)).statusCode).toBe(401);
    await expect.poll(async () => (await me(b, key)).statusCode, WITHIN).toBe(401);
    expect((await me(b, other.key)).statusCode).toBe(200);
    expect((await me(b, user.token)).statusCode).toBe(200);
  });

  it("refuse a key on B within a second of its expiry being moved into the past", async () => {
    const user = await registerUser(a.app);
    const { id, key } = await keyOf(user);
    expect((await me(b, key)).statusCode).toBe(200);
    await a.db.db
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiKeys.id, id));
    await expect.poll(async () => (await me(b, key)).statusCode, WITHIN).toBe(401);
  });

  it("refuse a key the moment it expires, with nothing announced", async () => {
    const user = await registerUser(a.app);
    const { id, key } = await keyOf(user);
    expect((await me(b, key)).statusCode).toBe(200);
    const expiresAt = new Date(Date.now() + 1500);
    const { heard } = await announcement(bDb, user.id);
    await a.db.db.update(apiKeys).set({ expiresAt }).where(eq(apiKeys.id, id));
    await heard;
    // B reads the new expiry, then keeps the key in memory until it passes.
    expect((await me(b, key)).statusCode).toBe(200);
    await renameSilently(a.db, user.id, "Unannounced");
    expect((await me(b, key)).json().name).toBeNull();
    await expect.poll(() => Date.now() > expiresAt.getTime(), { timeout: 3000, interval: 10 }).toBe(true);
    expect((await me(b, key)).statusCode).toBe(401);
  });

  it.skipIf(!onPostgres)("forget everything when their listener's connection was lost", async () => {
    const user = await registerUser(a.app);
    expect((await me(b, user.token)).json().name).toBeNull();
    await renameSilently(a.db, user.id, "Changed while unheard");
    expect((await me(b, user.token)).json().name).toBeNull();
    // What is announced while a listener is away is lost: end every listener's connection.
    const listeners = async () =>
      (
        await a.db.rows<{ pid: number }>(
          sql`select pid from pg_stat_activity where datname = current_database() and query ilike 'listen%'`,
        )
      ).map((row) => row.pid);
    const before = await listeners();
    expect(before.length).toBeGreaterThanOrEqual(2);
    await a.db.rows(
      sql`select pg_terminate_backend(pid) from unnest(${`{${before.join(",")}}`}::int[]) as pid`,
    );
    await expect
      .poll(async () => (await me(b, user.token)).json().name, WITHIN)
      .toBe("Changed while unheard");
    // Listening again, it keeps entries again.
    await expect
      .poll(async () => (await listeners()).filter((pid) => !before.includes(pid)).length, { timeout: 5000 })
      .toBeGreaterThanOrEqual(2);
    let round = 0;
    await expect
      .poll(
        async () => {
          const seen = (await me(b, user.token)).json().name;
          await renameSilently(a.db, user.id, `Unheard ${++round}`);
          return (await me(b, user.token)).json().name === seen;
        },
        { timeout: 5000 },
      )
      .toBe(true);
  });
});

describe("the credential cache", () => {
  it("keeps at most its capacity, dropping the least recently used", () => {
    const map = new BoundedMap<string, number>(3);
    for (const [i, key] of ["a", "b", "c"].entries()) map.set(key, i);
    expect(map.get("a")).toBe(0);
    map.set("d", 3);
    expect(map.size).toBe(3);
    expect(map.get("b")).toBeUndefined();
    for (let i = 0; i < 1000; i++) map.set(`k${i}`, i);
    expect(map.size).toBe(3);
    expect([map.get("k997"), map.get("k998"), map.get("k999")]).toEqual([997, 998, 999]);
    expect(() => new BoundedMap(0)).toThrow(RangeError);
  });

  it("bounds users and keys alike, whatever the number of callers", async () => {
    expect(CREDENTIAL_CACHE_SIZE).toBeGreaterThan(0);
    const cache = new CredentialCache<{ id: string }>(5);
    await cache.start(a.db);
    try {
      for (let i = 0; i < 50; i++) {
        const id = crypto.randomUUID();
        await cache.through(cache.users, id, async () => ({ id }));
        await cache.through(cache.keys, `hash-${i}`, async () => ({
          keyId: id,
          user: { id },
          expiresAt: null,
          lastUsedAt: null,
        }));
      }
      expect(cache.users.size).toBe(5);
      expect(cache.keys.size).toBe(5);
    } finally {
      await cache.stop();
    }
  });

  it("keeps nothing while not listening", async () => {
    const cache = new CredentialCache<{ id: string }>(5);
    let loads = 0;
    const load = async (id: string) => {
      loads++;
      return { id };
    };
    await cache.through(cache.users, "u", load);
    await cache.through(cache.users, "u", load);
    expect(loads).toBe(2);
    expect(cache.users.size).toBe(0);
  });

  it("does not keep a row read while a change to it was being announced", async () => {
    const cache = new CredentialCache<{ id: string; email: string }>(5);
    await cache.start(a.db);
    try {
      const user = await registerUser(a.app);
      // Subscribed after the cache: by the time this hears the deletion, so has the cache.
      const { heard } = await announcement(a.db, user.id);
      const read = await cache.through(cache.users, user.id, async (id) => {
        const [row] = await a.db.db
          .select({ id: users.id, email: users.email })
          .from(users)
          .where(eq(users.id, id));
        await a.db.db.delete(users).where(eq(users.id, id));
        await heard;
        return row;
      });
      expect(read?.id).toBe(user.id);
      expect(cache.users.get(user.id)).toBeUndefined();
    } finally {
      await cache.stop();
    }
  });
});
