import { agents, personas, sessions } from "@mimic/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, expectError, registerUser, type TestContext, type TestUser } from "./helpers.js";

let ctx: TestContext;
beforeAll(async () => {
  // An LLM endpoint is configured (never called here): openai personas and llm_judge checks may be saved.
  ctx = await createTestApp({ MIMIC_LLM_BASE_URL: "http://127.0.0.1:9/v1" });
});
afterAll(() => ctx.close());

// The seed's example request body.
const seedPersona = {
  name: "Frustrated Customer",
  description: "A customer who is having trouble with their order",
  prompt:
    "You are a frustrated customer who ordered a product online. The order was delayed, and you're calling customer service to get help.",
  traits: { communication_style: "direct", patience_level: "low", urgency: "high" },
  config: { messageInterval: 30, sessionDuration: 300 },
};

async function createPersona(user: TestUser, body: object = seedPersona) {
  const res = await ctx.app.inject({
    method: "POST",
    url: "/api/personas",
    headers: user.headers,
    payload: body,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

describe("personas CRUD", () => {
  it("creates a persona with the seed's fields and Mimic's own, and reads it back", async () => {
    const user = await registerUser(ctx.app);
    const created = await createPersona(user, {
      ...seedPersona,
      goal: "get a refund",
      script: ["Hi, where is my order #1234?"],
      provider: "openai",
      model: "gpt-4o-mini",
      temperature: 0.7,
      seed: 42,
    });
    expect(created).toMatchObject({
      ...seedPersona,
      goal: "get a refund",
      script: ["Hi, where is my order #1234?"],
      provider: "openai",
      model: "gpt-4o-mini",
      temperature: 0.7,
      seed: 42,
    });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(created.createdAt)).not.toBeNaN();
    const got = await ctx.app.inject({
      method: "GET",
      url: `/api/personas/${created.id}`,
      headers: user.headers,
    });
    expect(got.json()).toEqual(created);
  });

  it("fills defaults for optional fields", async () => {
    const user = await registerUser(ctx.app);
    const created = await createPersona(user, { name: "Minimal", prompt: "You are a customer." });
    expect(created).toMatchObject({
      description: null,
      traits: {},
      config: {},
      goal: null,
      script: [],
      provider: "scripted",
      model: null,
      temperature: null,
      seed: null,
    });
  });

  it("updates only the fields sent with PUT", async () => {
    const user = await registerUser(ctx.app);
    const created = await createPersona(user);
    const res = await ctx.app.inject({
      method: "PUT",
      url: `/api/personas/${created.id}`,
      headers: user.headers,
      payload: { name: "Calmer Customer", traits: { patience_level: "high" } },
    });
    expect(res.statusCode).toBe(200);
    const updated = res.json();
    expect(updated).toMatchObject({
      name: "Calmer Customer",
      traits: { patience_level: "high" },
      prompt: seedPersona.prompt,
    });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));
    const empty = await ctx.app.inject({
      method: "PUT",
      url: `/api/personas/${created.id}`,
      headers: user.headers,
      payload: {},
    });
    expectError(empty, 422, "VALIDATION_ERROR");
  });

  it("deletes a persona (204), after which it is gone from get, list and update", async () => {
    const user = await registerUser(ctx.app);
    const created = await createPersona(user);
    const del = await ctx.app.inject({
      method: "DELETE",
      url: `/api/personas/${created.id}`,
      headers: user.headers,
    });
    expect(del.statusCode).toBe(204);
    expect(del.body).toBe("");
    expectError(
      await ctx.app.inject({ method: "GET", url: `/api/personas/${created.id}`, headers: user.headers }),
      404,
      "RESOURCE_NOT_FOUND",
    );
    expectError(
      await ctx.app.inject({ method: "DELETE", url: `/api/personas/${created.id}`, headers: user.headers }),
      404,
      "RESOURCE_NOT_FOUND",
    );
    const list = await ctx.app.inject({ method: "GET", url: "/api/personas", headers: user.headers });
    expect(list.json().pagination.total).toBe(0);
    // Soft delete: the row stays for the sessions that used it.
    const [row] = await ctx.db.db.select().from(personas).where(eq(personas.id, created.id));
    expect(row?.deletedAt).toBeInstanceOf(Date);
  });

  it("stops the running sessions of a deleted persona and keeps finished ones", async () => {
    const user = await registerUser(ctx.app);
    const persona = await createPersona(user);
    const [agent] = await ctx.db.db
      .insert(agents)
      .values({
        userId: user.id,
        name: "Bot",
        type: "webhook",
        config: { webhook_url: "https://bot.example.com" },
      })
      .returning();
    const config = { duration: 60, maxMessages: 10, messageInterval: 1, replyTimeout: 5 };
    const [running, done] = await ctx.db.db
      .insert(sessions)
      .values([
        { userId: user.id, agentId: agent!.id, personaId: persona.id, status: "active", config },
        {
          userId: user.id,
          agentId: agent!.id,
          personaId: persona.id,
          status: "completed",
          config,
          reason: "completed",
        },
      ])
      .returning();
    await ctx.app.inject({ method: "DELETE", url: `/api/personas/${persona.id}`, headers: user.headers });
    const [stopped] = await ctx.db.db.select().from(sessions).where(eq(sessions.id, running!.id));
    expect(stopped).toMatchObject({ status: "stopped", reason: "persona deleted" });
    expect(stopped!.endedAt).toBeInstanceOf(Date);
    const [kept] = await ctx.db.db.select().from(sessions).where(eq(sessions.id, done!.id));
    expect(kept).toMatchObject({ status: "completed", reason: "completed" });
  });
});

describe("persona validation", () => {
  it.each([
    [{ name: "", prompt: "x" }, "name"],
    [{ name: "P", prompt: "x".repeat(16_385) }, "prompt"],
    [{ name: "P", prompt: "x", temperature: 3 }, "temperature"],
    [{ name: "P", prompt: "x", provider: "claude" }, "provider"],
    [{ name: "P", prompt: "x", config: { maxMessages: 1001 } }, "config.maxMessages"],
    [{ name: "P", prompt: "x", config: { sessionDuration: 86_401 } }, "config.sessionDuration"],
    [{ name: "P", prompt: "x", config: { unknown: 1 } }, "config.unknown"],
    [{ name: "P", prompt: "x", script: ["ok", ""] }, "script[1]"],
    [{ name: "P", prompt: "x", seed: 1.5 }, "seed"],
    [{ name: "x".repeat(201), prompt: "x" }, "name"],
    [{ name: "P", prompt: "x", description: "d".repeat(2001) }, "description"],
    [{ name: "P", prompt: "x", goal: "g".repeat(501) }, "goal"],
    [{ name: "P", prompt: "x", script: Array.from({ length: 51 }, (_, i) => `line ${i}`) }, "script"],
    [{ name: "P", prompt: "x", script: ["s".repeat(2001)] }, "script[0]"],
    // 40 traits of 200 characters: within the per-trait limits, over 4 KiB of JSON together.
    [
      {
        name: "P",
        prompt: "x",
        traits: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`t${i}`, "v".repeat(200)])),
      },
      "traits",
    ],
  ])("rejects %j naming %s, and writes nothing", async (payload, field) => {
    const user = await registerUser(ctx.app);
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/personas",
      headers: user.headers,
      payload,
    });
    const error = expectError(res, 422, "VALIDATION_ERROR");
    expect(error.details?.map((d) => d.field)).toContain(field);
    expect(await ctx.db.db.$count(personas, eq(personas.userId, user.id))).toBe(0);
  });
});

describe("persona size", () => {
  const KIB = 1024;
  /** A persona of about `kib` KiB of JSON, every field within its own cap. */
  const sized = (name: string, kib: number) => ({
    name,
    prompt: "p".repeat(Math.min(16 * KIB, kib * KIB)),
    script: Array.from({ length: Math.max(0, Math.ceil((kib - 16) / 2)) }, () => "s".repeat(2000)),
  });

  it("refuses a persona over 32 KiB of JSON in all, naming its largest field, and writes nothing", async () => {
    const user = await registerUser(ctx.app);
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/personas",
      headers: user.headers,
      payload: sized("Big", 40),
    });
    const error = expectError(res, 422, "VALIDATION_ERROR");
    expect(error.details?.[0]?.field).toBe("script");
    expect(error.details?.[0]?.message).toMatch(/over the 32768 allowed for all its fields together/);
    expect(await ctx.db.db.$count(personas, eq(personas.userId, user.id))).toBe(0);
  });

  it("measures an update on the persona as changed, and keeps the old one when it is too large", async () => {
    const user = await registerUser(ctx.app);
    const persona = await createPersona(user, sized("Almost full", 30));
    const url = `/api/personas/${persona.id}`;
    const grow = await ctx.app.inject({
      method: "PUT",
      url,
      headers: user.headers,
      payload: { description: "d".repeat(2000), goal: "g".repeat(500), script: sized("", 34).script },
    });
    expect(expectError(grow, 422, "VALIDATION_ERROR").details?.[0]?.field).toBe("script");
    const kept = await ctx.app.inject({ method: "GET", url, headers: user.headers });
    expect(kept.json()).toEqual(persona);
    const small = await ctx.app.inject({
      method: "PUT",
      url,
      headers: user.headers,
      payload: { goal: "refund" },
    });
    expect(small.statusCode, small.body).toBe(200);
  });

  it("keeps a page of personas under 2 MiB: at most 50 per page, whatever the limit asked", async () => {
    const user = await registerUser(ctx.app);
    for (let i = 0; i < 51; i++) await createPersona(user, sized(`Full ${i}`, 31.5));
    const first = await ctx.app.inject({
      method: "GET",
      url: "/api/personas?limit=100",
      headers: user.headers,
    });
    expect(first.statusCode).toBe(200);
    expect(first.json().data).toHaveLength(50);
    expect(first.json().pagination).toEqual({ page: 1, limit: 50, total: 51, pages: 2 });
    expect(Buffer.byteLength(first.body)).toBeGreaterThan(1.5 * 1024 * KIB);
    expect(Buffer.byteLength(first.body)).toBeLessThan(2 * 1024 * KIB);
    // The next page, asked for with the same limit, holds the rest: paging stays consistent.
    const second = await ctx.app.inject({
      method: "GET",
      url: "/api/personas?page=2&limit=100",
      headers: user.headers,
    });
    expect(second.json().data).toHaveLength(1);
    expect(second.json().data[0].name).toBe("Full 0");
  });
});

describe("without an LLM endpoint", () => {
  it("refuses openai personas and llm_judge checks when saved, naming MIMIC_LLM_BASE_URL (422)", async () => {
    const plain = await createTestApp();
    try {
      const user = await registerUser(plain.app);
      const post = (payload: object) =>
        plain.app.inject({ method: "POST", url: "/api/personas", headers: user.headers, payload });
      const error = expectError(
        await post({
          name: "LLM",
          prompt: "p",
          provider: "openai",
          checks: [{ type: "all_answered" }, { type: "llm_judge", rubric: "Polite" }],
        }),
        422,
        "VALIDATION_ERROR",
      );
      expect(error.message).toBe("This persona needs an LLM endpoint: set MIMIC_LLM_BASE_URL on the server");
      expect(error.details).toEqual([
        { field: "provider", message: "openai needs an LLM endpoint: set MIMIC_LLM_BASE_URL on the server" },
        {
          field: "checks[1]",
          message: "llm_judge needs an LLM endpoint: set MIMIC_LLM_BASE_URL on the server",
        },
      ]);
      const scripted = await post({ name: "Plain", prompt: "p" });
      expect(scripted.statusCode).toBe(201);
      const update = await plain.app.inject({
        method: "PUT",
        url: `/api/personas/${scripted.json().id}`,
        headers: user.headers,
        payload: { provider: "openai" },
      });
      expect(expectError(update, 422, "VALIDATION_ERROR").details?.[0]?.field).toBe("provider");
      const [row] = await plain.db.db.select().from(personas).where(eq(personas.id, scripted.json().id));
      expect(row!.provider).toBe("scripted");
      expect(await plain.db.db.select().from(personas)).toHaveLength(1);
    } finally {
      await plain.close();
    }
  });
});

describe("persona lists", () => {
  it("pages newest first with total and page count", async () => {
    const user = await registerUser(ctx.app);
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) ids.push((await createPersona(user, { name: `P${i}`, prompt: "x" })).id);
    const newestFirst = [...ids].reverse();
    const page2 = await ctx.app.inject({
      method: "GET",
      url: "/api/personas?page=2&limit=10",
      headers: user.headers,
    });
    expect(page2.json().pagination).toEqual({ page: 2, limit: 10, total: 25, pages: 3 });
    expect(page2.json().data.map((p: { id: string }) => p.id)).toEqual(newestFirst.slice(10, 20));
    const page3 = await ctx.app.inject({
      method: "GET",
      url: "/api/personas?page=3&limit=10",
      headers: user.headers,
    });
    expect(page3.json().data).toHaveLength(5);
    const beyond = await ctx.app.inject({
      method: "GET",
      url: "/api/personas?page=9&limit=10",
      headers: user.headers,
    });
    expect(beyond.json()).toEqual({ data: [], pagination: { page: 9, limit: 10, total: 25, pages: 3 } });
    const defaults = await ctx.app.inject({ method: "GET", url: "/api/personas", headers: user.headers });
    expect(defaults.json().pagination).toEqual({ page: 1, limit: 20, total: 25, pages: 2 });
  });

  it.each(["limit=101", "limit=0", "page=0", "page=-1", "limit=1.5"])("rejects %s (422)", async (query) => {
    const user = await registerUser(ctx.app);
    const res = await ctx.app.inject({ method: "GET", url: `/api/personas?${query}`, headers: user.headers });
    expectError(res, 422, "VALIDATION_ERROR");
  });
});

describe("persona ownership", () => {
  it("hides another user's persona on every verb (404) and leaves it untouched", async () => {
    const owner = await registerUser(ctx.app);
    const intruder = await registerUser(ctx.app);
    const persona = await createPersona(owner);
    const url = `/api/personas/${persona.id}`;
    for (const [method, payload] of [["GET"], ["PUT", { name: "Hijacked" }], ["DELETE"]] as const) {
      const res = await ctx.app.inject({
        method,
        url,
        headers: intruder.headers,
        ...(payload ? { payload } : {}),
      });
      expect(expectError(res, 404, "RESOURCE_NOT_FOUND").message).toBe("Persona not found");
      expect(res.body).not.toContain(persona.name);
    }
    const list = await ctx.app.inject({ method: "GET", url: "/api/personas", headers: intruder.headers });
    expect(list.json().data).toEqual([]);
    const still = await ctx.app.inject({ method: "GET", url, headers: owner.headers });
    expect(still.json()).toEqual(persona);
  });

  it("answers 404 for ids that are not UUIDs", async () => {
    const user = await registerUser(ctx.app);
    expectError(
      await ctx.app.inject({ method: "GET", url: "/api/personas/test-persona", headers: user.headers }),
      404,
      "RESOURCE_NOT_FOUND",
    );
  });
});
