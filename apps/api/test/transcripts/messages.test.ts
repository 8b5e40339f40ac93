// Writing and paging transcripts: metadata merges, idempotent and atomic message posts, agent-key posts, the
// new_message events they announce, and a stable oldest-first order.
import { randomUUID } from "node:crypto";
import { messages, sessions } from "@mimic/db";
import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionEvent } from "../../src/engine/events.js";
import { createTestApp, expectError, registerUser, type TestContext } from "../helpers.js";
import { as, createOwner, getJson, insertMessages, newSession, type Owner } from "./fixtures.js";

let ctx: TestContext;
let owner: Owner;
const AGENT_KEY = "agent-key-0123456789abcdef";

beforeAll(async () => {
  ctx = await createTestApp({ MIMIC_ALLOW_PRIVATE_TARGETS: "true" }, { engine: false });
  await ctx.app.ready();
  owner = await createOwner(ctx.app, { api_key: AGENT_KEY });
});
afterAll(() => ctx.close());

const stored = (sessionId: string) =>
  ctx.db.db
    .select()
    .from(messages)
    .where(eq(messages.sessionId, sessionId))
    .orderBy(asc(messages.timestamp), asc(messages.seq));

/** Events cross LISTEN/NOTIFY: allow for a busy machine. */
const POLL = { timeout: 10_000, interval: 20 };

const agentHeaders = (key = AGENT_KEY) => ({ authorization: `Bearer ${key}` });

describe("PATCH /api/sessions/{id} (metadata)", () => {
  it("merges keys, removes a key set to null, and keeps the computed keys", async () => {
    const s = await newSession(ctx.app, owner, { metadata: { ticket: "QA-1", build: 41, keep: true } });
    const res = await as(ctx.app, owner.user).patch(`/api/sessions/${s.id}`, {
      metadata: { build: 42, ticket: null, branch: { name: "main" } },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().metadata).toEqual({
      build: 42,
      keep: true,
      branch: { name: "main" },
      startTime: expect.any(String),
      messageCount: 0,
    });
    // The merge is stored, not only echoed.
    const [row] = await ctx.db.db.select().from(sessions).where(eq(sessions.id, s.id));
    expect(row!.metadata).toEqual({ build: 42, keep: true, branch: { name: "main" } });
  });

  it.each([
    ["startTime", { startTime: "2020-01-01T00:00:00Z" }, "metadata.startTime"],
    ["messageCount", { messageCount: 3 }, "metadata.messageCount"],
    ["16 KiB of JSON", { blob: "x".repeat(16 * 1024) }, "metadata"],
  ])("rejects a patch setting %s (422, naming the field) and leaves the metadata unchanged", async (_label, patch, field) => {
    const s = await newSession(ctx.app, owner, { metadata: { ticket: "QA-2" } });
    const error = expectError(
      await as(ctx.app, owner.user).patch(`/api/sessions/${s.id}`, { metadata: patch }),
      422,
      "VALIDATION_ERROR",
    );
    expect(error.details?.map((d) => d.field)).toEqual([field]);
    const [row] = await ctx.db.db.select().from(sessions).where(eq(sessions.id, s.id));
    expect(row!.metadata).toEqual({ ticket: "QA-2" });
  });

  it("counts the merged size: many small patches cannot grow metadata past 16 KiB", async () => {
    const s = await newSession(ctx.app, owner);
    const patch = (key: string) =>
      as(ctx.app, owner.user).patch(`/api/sessions/${s.id}`, { metadata: { [key]: "y".repeat(6000) } });
    expect((await patch("a")).statusCode).toBe(200);
    expect((await patch("b")).statusCode).toBe(200);
    // a + b + c ≈ 18,000 bytes of JSON > 16,384.
    expectError(await patch("c"), 422, "VALIDATION_ERROR");
    const [row] = await ctx.db.db.select().from(sessions).where(eq(sessions.id, s.id));
    expect(Object.keys(row!.metadata).sort()).toEqual(["a", "b"]);
  });

  it("keeps every key of concurrent patches (merged by the database, not read-modify-write)", async () => {
    const s = await newSession(ctx.app, owner);
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    const results = await Promise.all(
      keys.map((key) => as(ctx.app, owner.user).patch(`/api/sessions/${s.id}`, { metadata: { [key]: key } })),
    );
    expect(results.map((r) => r.statusCode)).toEqual(keys.map(() => 200));
    const [row] = await ctx.db.db.select().from(sessions).where(eq(sessions.id, s.id));
    expect(row!.metadata).toEqual(Object.fromEntries(keys.map((k) => [k, k])));
  });

  it("answers 404 for another user's session", async () => {
    const s = await newSession(ctx.app, owner);
    const stranger = await registerUser(ctx.app);
    expectError(
      await as(ctx.app, stranger).patch(`/api/sessions/${s.id}`, { metadata: { x: 1 } }),
      404,
      "RESOURCE_NOT_FOUND",
    );
  });
});

describe("POST /api/sessions/{id}/messages", () => {
  it("stores a client id once: 201 the first time, 200 with the stored message after", async () => {
    const s = await newSession(ctx.app, owner);
    const id = randomUUID();
    const post = (content: string) =>
      as(ctx.app, owner.user).post(`/api/sessions/${s.id}/messages`, { id, senderType: "persona", content });
    const first = await post("Where is my parcel?");
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json()).toMatchObject({ id, sessionId: s.id, senderType: "persona", latencyMs: null });
    const again = await post("Where is my parcel? (retry)");
    expect(again.statusCode).toBe(200);
    // A retry returns what was stored; it never overwrites it.
    expect(again.json()).toEqual(first.json());
    expect((await stored(s.id)).map((m) => m.content)).toEqual(["Where is my parcel?"]);
  });

  it("keeps a given timestamp (recording a real conversation)", async () => {
    const s = await newSession(ctx.app, owner);
    const res = await as(ctx.app, owner.user).post(`/api/sessions/${s.id}/messages`, {
      senderType: "agent",
      content: "Recorded yesterday",
      timestamp: "2024-05-01T10:20:30.456Z",
    });
    expect(res.statusCode).toBe(201);
    expect(res.json().timestamp).toBe("2024-05-01T10:20:30.456Z");
  });

  it("refuses an id already used in another session (409) without reading it", async () => {
    const a = await newSession(ctx.app, owner);
    const b = await newSession(ctx.app, owner);
    const id = randomUUID();
    const post = (sessionId: string, content: string) =>
      as(ctx.app, owner.user).post(`/api/sessions/${sessionId}/messages`, {
        id,
        senderType: "persona",
        content,
      });
    expect((await post(a.id, "secret in A")).statusCode).toBe(201);
    const res = await post(b.id, "hello from B");
    expect(expectError(res, 409, "CONFLICT").message).not.toContain("secret");
    expect(await stored(b.id)).toEqual([]);
  });
});

describe("POST /api/sessions/{id}/messages/batch", () => {
  const batch = (sessionId: string, items: object[], headers?: Record<string, string>) =>
    as(ctx.app, headers ? undefined : owner.user).post(
      `/api/sessions/${sessionId}/messages/batch`,
      { messages: items },
      headers,
    );

  it("answers 201 with every message in order and how many were new", async () => {
    const s = await newSession(ctx.app, owner);
    const known = randomUUID();
    await as(ctx.app, owner.user).post(`/api/sessions/${s.id}/messages`, {
      id: known,
      senderType: "persona",
      content: "first",
    });
    const res = await batch(s.id, [
      { senderType: "agent", content: "second" },
      { id: known, senderType: "persona", content: "first (resent)" },
      { senderType: "system", content: "third" },
    ]);
    expect(res.statusCode, res.body).toBe(201);
    const body = res.json();
    expect(body.created).toBe(2);
    expect(body.data.map((m: { content: string }) => m.content)).toEqual(["second", "first", "third"]);
    expect(body.data[1].id).toBe(known);
    expect((await stored(s.id)).map((m) => m.content)).toEqual(["first", "second", "third"]);
  });

  it("names the invalid item (messages[3].content) and writes nothing", async () => {
    const s = await newSession(ctx.app, owner);
    const items = [0, 1, 2, 3, 4].map((i) => ({ senderType: "persona", content: `line ${i}` }));
    items[3] = { senderType: "persona", content: "" };
    const error = expectError(await batch(s.id, items), 422, "VALIDATION_ERROR");
    expect(error.details?.map((d) => d.field)).toEqual(["messages[3].content"]);

    const badSender = [...items];
    badSender[3] = { senderType: "robot", content: "beep" };
    const error2 = expectError(await batch(s.id, badSender), 422, "VALIDATION_ERROR");
    expect(error2.details?.map((d) => d.field)).toContain("messages[3].senderType");
    expect(await stored(s.id)).toEqual([]);
  });

  it("accepts 1 to 500 messages", async () => {
    const s = await newSession(ctx.app, owner);
    expectError(await batch(s.id, []), 422, "VALIDATION_ERROR");
    const item = { senderType: "persona", content: "x" };
    expectError(await batch(s.id, Array(501).fill(item)), 422, "VALIDATION_ERROR");
    expect(await stored(s.id)).toEqual([]);
    const res = await batch(s.id, Array(500).fill(item));
    expect(res.statusCode).toBe(201);
    expect(res.json().created).toBe(500);
  });

  it("is all or nothing: an id used in another session fails the batch (409) and writes none of it", async () => {
    const other = await newSession(ctx.app, owner);
    const taken = randomUUID();
    await batch(other.id, [{ id: taken, senderType: "persona", content: "belongs to the other session" }]);
    const s = await newSession(ctx.app, owner);
    const res = await batch(s.id, [
      { senderType: "persona", content: "one" },
      { senderType: "agent", content: "two" },
      { id: taken, senderType: "agent", content: "three" },
      { senderType: "persona", content: "four" },
    ]);
    expectError(res, 409, "CONFLICT");
    expect(await stored(s.id)).toEqual([]);
    // The other session's message is untouched.
    expect((await stored(other.id)).map((m) => m.content)).toEqual(["belongs to the other session"]);
  });

  it("stores a client id repeated inside one batch once", async () => {
    const s = await newSession(ctx.app, owner);
    const id = randomUUID();
    const res = await batch(s.id, [
      { id, senderType: "persona", content: "once" },
      { id, senderType: "persona", content: "once" },
    ]);
    expect(res.statusCode).toBe(201);
    expect(res.json().created).toBe(1);
    expect(await stored(s.id)).toHaveLength(1);
  });

  describe("with the agent's api_key", () => {
    it("accepts agent messages to a pending or active session", async () => {
      const s = await newSession(ctx.app, owner);
      const res = await batch(s.id, [{ senderType: "agent", content: "Let me check." }], agentHeaders());
      expect(res.statusCode, res.body).toBe(201);
      await ctx.db.db.update(sessions).set({ status: "active" }).where(eq(sessions.id, s.id));
      const res2 = await batch(s.id, [{ senderType: "agent", content: "Found it." }], agentHeaders());
      expect(res2.statusCode, res2.body).toBe(201);
      expect((await stored(s.id)).map((m) => m.content)).toEqual(["Let me check.", "Found it."]);
    });

    it("refuses any non-agent message in the batch (403) and writes nothing", async () => {
      const s = await newSession(ctx.app, owner);
      const res = await batch(
        s.id,
        [
          { senderType: "agent", content: "fine" },
          { senderType: "persona", content: "pretending to be the customer" },
        ],
        agentHeaders(),
      );
      expectError(res, 403, "AUTHORIZATION_ERROR");
      expect(await stored(s.id)).toEqual([]);
    });

    it.each([
      "completed",
      "failed",
      "stopped",
    ] as const)("refuses a %s session (409) and writes nothing", async (status) => {
      const s = await newSession(ctx.app, owner);
      await ctx.db.db.update(sessions).set({ status }).where(eq(sessions.id, s.id));
      expectError(
        await batch(s.id, [{ senderType: "agent", content: "too late" }], agentHeaders()),
        409,
        "CONFLICT",
      );
      expect(await stored(s.id)).toEqual([]);
      // The owner may still record messages in a finished session.
      expect((await batch(s.id, [{ senderType: "agent", content: "noted" }])).statusCode).toBe(201);
    });

    it("refuses a wrong key, and the key of another agent (401)", async () => {
      const s = await newSession(ctx.app, owner);
      expectError(
        await batch(s.id, [{ senderType: "agent", content: "x" }], agentHeaders("not-the-key")),
        401,
        "AUTHENTICATION_ERROR",
      );
      const other = await createOwner(ctx.app, { api_key: "another-agents-key-123456" });
      expectError(
        await batch(s.id, [{ senderType: "agent", content: "x" }], agentHeaders("another-agents-key-123456")),
        401,
        "AUTHENTICATION_ERROR",
      );
      // …nor does this agent's key open another owner's session.
      const theirs = await newSession(ctx.app, other);
      expectError(
        await batch(theirs.id, [{ senderType: "agent", content: "x" }], agentHeaders()),
        401,
        "AUTHENTICATION_ERROR",
      );
      // No credentials at all: 401; another user's token: 404, as for any of their sessions.
      const anonymous = await ctx.app.inject({
        method: "POST",
        url: `/api/sessions/${s.id}/messages/batch`,
        payload: { messages: [{ senderType: "agent", content: "x" }] },
      });
      expectError(anonymous, 401, "AUTHENTICATION_ERROR");
      expectError(
        await as(ctx.app, other.user).post(`/api/sessions/${s.id}/messages/batch`, {
          messages: [{ senderType: "agent", content: "x" }],
        }),
        404,
        "RESOURCE_NOT_FOUND",
      );
      expect(await stored(s.id)).toEqual([]);
      expect(await stored(theirs.id)).toEqual([]);
    });

    it("applies the same rules to a single message", async () => {
      const s = await newSession(ctx.app, owner);
      const post = (payload: object) =>
        as(ctx.app, undefined).post(`/api/sessions/${s.id}/messages`, payload, agentHeaders());
      const res = await post({ senderType: "agent", content: "Async answer" });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json()).toMatchObject({ sessionId: s.id, senderType: "agent", content: "Async answer" });
      expectError(await post({ senderType: "persona", content: "impostor" }), 403, "AUTHORIZATION_ERROR");
      await ctx.db.db.update(sessions).set({ status: "completed" }).where(eq(sessions.id, s.id));
      expectError(await post({ senderType: "agent", content: "late" }), 409, "CONFLICT");
      expect((await stored(s.id)).map((m) => m.content)).toEqual(["Async answer"]);
    });
  });

  it("announces each new message of a batch as new_message, in order, and nothing for a failed batch", async () => {
    const s = await newSession(ctx.app, owner);
    const events: SessionEvent[] = [];
    const users: string[] = [];
    const unsubscribe = ctx.app.events.subscribe(s.id, (event, userId) => {
      events.push(event);
      users.push(userId);
    });
    try {
      const known = randomUUID();
      await batch(s.id, [{ id: known, senderType: "persona", content: "already here" }]);
      await expect.poll(() => events.filter((e) => e.type === "new_message").length, POLL).toBe(1);
      // A failed batch (item 1 invalid) announces nothing…
      expectError(
        await batch(s.id, [
          { senderType: "persona", content: "ghost" },
          { senderType: "persona", content: "" },
        ]),
        422,
        "VALIDATION_ERROR",
      );
      // …and neither does one rolled back by a conflict.
      const other = await newSession(ctx.app, owner);
      const taken = randomUUID();
      await batch(other.id, [{ id: taken, senderType: "persona", content: "elsewhere" }]);
      expectError(
        await batch(s.id, [
          { senderType: "persona", content: "rolled back" },
          { id: taken, senderType: "persona", content: "conflict" },
        ]),
        409,
        "CONFLICT",
      );
      const res = await batch(
        s.id,
        [
          { senderType: "agent", content: "a" },
          { id: known, senderType: "persona", content: "already here" },
          { senderType: "agent", content: "b" },
          { senderType: "agent", content: "c" },
        ],
        agentHeaders(),
      );
      expect(res.statusCode).toBe(403); // the agent key may not resend a persona message
      const ok = await batch(s.id, [
        { senderType: "agent", content: "a" },
        { id: known, senderType: "persona", content: "already here" },
        { senderType: "agent", content: "b" },
        { senderType: "agent", content: "c" },
      ]);
      expect(ok.json().created).toBe(3);
      const newIds = ok.json().data.map((m: { id: string }) => m.id) as string[];
      await expect
        .poll(() => events.filter((e) => e.type === "new_message").map((e) => e.data.content), POLL)
        .toEqual(["already here", "a", "b", "c"]);
      const announced = events.flatMap((e) => (e.type === "new_message" ? [e] : []));
      // Events arrive in commit order: had the failed batches announced anything, it would sit before "a".
      expect(announced.slice(1).map((e) => e.data.id)).toEqual([newIds[0], newIds[2], newIds[3]]);
      expect(announced[1]).toEqual({
        type: "new_message",
        sessionId: s.id,
        seq: expect.any(Number),
        data: {
          id: newIds[0],
          senderType: "agent",
          content: "a",
          timestamp: ok.json().data[0].timestamp,
          latencyMs: null,
        },
      });
      expect(new Set(users)).toEqual(new Set([owner.user.id]));
    } finally {
      unsubscribe();
    }
  });

  it("announces a message too large for a NOTIFY payload (8000 bytes) whole, and in its place", async () => {
    const s = await newSession(ctx.app, owner);
    const events: SessionEvent[] = [];
    const unsubscribe = ctx.app.events.subscribe(s.id, (event) => events.push(event));
    try {
      const big = "B".repeat(20_000);
      const res = await batch(s.id, [
        { senderType: "persona", content: "before" },
        { senderType: "agent", content: big },
        { senderType: "persona", content: "after" },
      ]);
      expect(res.statusCode).toBe(201);
      const ids = res.json().data.map((m: { id: string }) => m.id) as string[];
      // The big one travels by reference and is read back: later events must not overtake it.
      await expect
        .poll(
          () => events.flatMap((e) => (e.type === "new_message" ? [[e.data.id, e.data.content.length]] : [])),
          POLL,
        )
        .toEqual([
          [ids[0], 6],
          [ids[1], 20_000],
          [ids[2], 5],
        ]);
    } finally {
      unsubscribe();
    }
  });
});

describe("GET /api/sessions/{id}/messages", () => {
  it("pages oldest first, equal timestamps in insertion order, stable across pages", async () => {
    const s = await newSession(ctx.app, owner);
    const t = (iso: string) => new Date(iso);
    // Inserted out of time order; five messages share one timestamp.
    const ids = await insertMessages(ctx, s.id, [
      { senderType: "agent", content: "m3", timestamp: t("2024-06-01T10:00:02Z") },
      { senderType: "persona", content: "tie-1", timestamp: t("2024-06-01T10:00:05Z") },
      { senderType: "agent", content: "tie-2", timestamp: t("2024-06-01T10:00:05Z") },
      { senderType: "system", content: "tie-3", timestamp: t("2024-06-01T10:00:05Z") },
      { senderType: "persona", content: "tie-4", timestamp: t("2024-06-01T10:00:05Z") },
      { senderType: "agent", content: "tie-5", timestamp: t("2024-06-01T10:00:05Z") },
      { senderType: "persona", content: "m1", timestamp: t("2024-06-01T10:00:00Z") },
      { senderType: "persona", content: "m2", timestamp: t("2024-06-01T10:00:01Z") },
    ]);
    const expected = ["m1", "m2", "m3", "tie-1", "tie-2", "tie-3", "tie-4", "tie-5"];
    type Page = {
      data: { id: string; content: string; sessionId: string }[];
      pagination: { page: number; limit: number; total: number; pages: number };
    };
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const body = await getJson<Page>(
        ctx.app,
        owner.user,
        `/api/sessions/${s.id}/messages?page=${page}&limit=3`,
      );
      expect(body.pagination).toEqual({ page, limit: 3, total: 8, pages: 3 });
      seen.push(...body.data.map((m) => m.content));
    }
    expect(seen).toEqual(expected);
    // The same order twice (no tie resolved differently on a second read).
    const all = await getJson<Page>(ctx.app, owner.user, `/api/sessions/${s.id}/messages?limit=100`);
    expect(all.data.map((m) => m.content)).toEqual(expected);
    expect(all.data.every((m) => m.sessionId === s.id)).toBe(true);
    expect(new Set(all.data.map((m) => m.id))).toEqual(new Set(ids));
  });

  it("filters by senderType, and keeps the order", async () => {
    const s = await newSession(ctx.app, owner);
    await insertMessages(ctx, s.id, [
      { senderType: "persona", content: "p1", timestamp: new Date("2024-06-01T10:00:00Z") },
      { senderType: "agent", content: "a1", timestamp: new Date("2024-06-01T10:00:01Z"), latencyMs: 900 },
      { senderType: "system", content: "s1", timestamp: new Date("2024-06-01T10:00:02Z") },
      { senderType: "persona", content: "p2", timestamp: new Date("2024-06-01T10:00:03Z") },
    ]);
    const page = await getJson<{ data: { content: string }[]; pagination: { total: number } }>(
      ctx.app,
      owner.user,
      `/api/sessions/${s.id}/messages?senderType=persona`,
    );
    expect(page.data.map((m) => m.content)).toEqual(["p1", "p2"]);
    expect(page.pagination.total).toBe(2);
    expectError(
      await as(ctx.app, owner.user).get(`/api/sessions/${s.id}/messages?senderType=robot`),
      422,
      "VALIDATION_ERROR",
    );
    expectError(
      await as(ctx.app, owner.user).get(`/api/sessions/${s.id}/messages?limit=101`),
      422,
      "VALIDATION_ERROR",
    );
  });

  it("orders messages posted in one batch (one transaction, one now()) by insertion", async () => {
    const s = await newSession(ctx.app, owner);
    const items = Array.from({ length: 30 }, (_, i) => ({ senderType: "persona", content: `n${i}` }));
    await as(ctx.app, owner.user).post(`/api/sessions/${s.id}/messages/batch`, { messages: items });
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const body = await getJson<{ data: { content: string }[] }>(
        ctx.app,
        owner.user,
        `/api/sessions/${s.id}/messages?page=${page}&limit=10`,
      );
      seen.push(...body.data.map((m) => m.content));
    }
    expect(seen).toEqual(items.map((m) => m.content));
  });

  it("answers 404 for another user's session", async () => {
    const s = await newSession(ctx.app, owner);
    const stranger = await registerUser(ctx.app);
    expectError(await as(ctx.app, stranger).get(`/api/sessions/${s.id}/messages`), 404, "RESOURCE_NOT_FOUND");
  });
});
