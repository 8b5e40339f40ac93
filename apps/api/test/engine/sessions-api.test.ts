// The sessions API without the engine running: sessions stay pending, which keeps these checks deterministic.
import { sessions } from "@mimic/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, expectError, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { createAgent, createPersona, startSession } from "./fixtures.js";

let ctx: TestContext;
let user: TestUser;
let persona: { id: string };
let agent: { id: string };
beforeAll(async () => {
  ctx = await createTestApp({ MIMIC_ALLOW_PRIVATE_TARGETS: "true" }, { engine: false });
  user = await registerUser(ctx.app);
  persona = await createPersona(ctx.app, user);
  agent = await createAgent(ctx.app, user, { webhook_url: "https://bot.example.com/hook" });
});
afterAll(() => ctx.close());

const create = (u: TestUser, payload: object) =>
  ctx.app.inject({ method: "POST", url: "/api/sessions", headers: u.headers, payload });

describe("creating sessions", () => {
  it("answers 201 with the seed's shape", async () => {
    const res = await create(user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { duration: 300, maxMessages: 50, messageInterval: 30 },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({
      agentId: agent.id,
      personaId: persona.id,
      status: "pending",
      config: { duration: 300, maxMessages: 50, messageInterval: 30, replyTimeout: 30 },
      reason: null,
      startedAt: null,
      endedAt: null,
    });
    expect(Date.parse(body.createdAt)).not.toBeNaN();
    expect(Date.parse(body.updatedAt)).not.toBeNaN();
  });

  it("names a missing agentId like the seed's example (422)", async () => {
    const error = expectError(await create(user, { personaId: persona.id }), 422, "VALIDATION_ERROR");
    expect(error.details).toEqual([{ field: "agentId", message: "agentId is required" }]);
  });

  it.each([
    [{ config: { maxMessages: 0 } }, "config.maxMessages"],
    [{ config: { maxMessages: 1001 } }, "config.maxMessages"],
    [{ config: { duration: 86_401 } }, "config.duration"],
    [{ config: { messageInterval: -1 } }, "config.messageInterval"],
    [{ config: { replyTimeout: 0 } }, "config.replyTimeout"],
    [{ config: { speed: 2 } }, "config.speed"],
    [{ metadata: { startTime: "yesterday" } }, "metadata.startTime"],
    [{ metadata: { blob: "x".repeat(17_000) } }, "metadata"],
  ])("rejects %j naming %s, and writes nothing", async (extra, field) => {
    const before = await ctx.db.db.$count(sessions);
    const error = expectError(
      await create(user, { agentId: agent.id, personaId: persona.id, ...extra }),
      422,
      "VALIDATION_ERROR",
    );
    expect(error.details?.map((d) => d.field)).toContain(field);
    expect(await ctx.db.db.$count(sessions)).toBe(before);
  });

  it("answers 404 for another user's agent or persona, and for ids that do not exist", async () => {
    const stranger = await registerUser(ctx.app);
    const strangersPersona = await createPersona(ctx.app, stranger);
    const strangersAgent = await createAgent(ctx.app, stranger, {
      webhook_url: "https://bot.example.com/hook",
    });
    expect(
      expectError(
        await create(user, { agentId: strangersAgent.id, personaId: persona.id }),
        404,
        "RESOURCE_NOT_FOUND",
      ).message,
    ).toBe("Agent not found");
    expect(
      expectError(
        await create(user, { agentId: agent.id, personaId: strangersPersona.id }),
        404,
        "RESOURCE_NOT_FOUND",
      ).message,
    ).toBe("Persona not found");
    expectError(
      await create(user, { agentId: "test-agent", personaId: "test-persona" }),
      404,
      "RESOURCE_NOT_FOUND",
    );
  });

  it("refuses inactive agents (409) and agents whose config cannot run a session (422)", async () => {
    const idle = await createAgent(ctx.app, user, { webhook_url: "https://bot.example.com/hook" });
    await ctx.app.inject({
      method: "PUT",
      url: `/api/agents/${idle.id}`,
      headers: user.headers,
      payload: { status: "inactive" },
    });
    expectError(await create(user, { agentId: idle.id, personaId: persona.id }), 409, "CONFLICT");
    const voice = await createAgent(ctx.app, user, { phone_number: "+1234567890" }, "voice");
    const error = expectError(
      await create(user, { agentId: voice.id, personaId: persona.id }),
      422,
      "VALIDATION_ERROR",
    );
    // Every agent type runs now; a voice agent that can only be phoned cannot (Mimic dials Media Streams).
    expect(error.details?.[0]).toEqual({
      field: "agentId.config.url",
      message: "is required to run sessions",
    });
  });
});

describe("reading sessions", () => {
  it("gets a session with its messages and the seed's metadata", async () => {
    const s = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      metadata: { ticket: "QA-1" },
    });
    const got = await ctx.app.inject({ method: "GET", url: `/api/sessions/${s.id}`, headers: user.headers });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toMatchObject({
      id: s.id,
      messages: [],
      metadata: { ticket: "QA-1", messageCount: 0, startTime: expect.any(String) },
    });
  });

  it("lists newest first with status, agentId and personaId filters", async () => {
    const u = await registerUser(ctx.app);
    const p1 = await createPersona(ctx.app, u);
    const p2 = await createPersona(ctx.app, u);
    const a1 = await createAgent(ctx.app, u, { webhook_url: "https://bot.example.com/1" });
    const s1 = await startSession(ctx.app, u, { agentId: a1.id, personaId: p1.id });
    const s2 = await startSession(ctx.app, u, { agentId: a1.id, personaId: p2.id });
    const s3 = await startSession(ctx.app, u, { agentId: a1.id, personaId: p2.id });
    await ctx.db.db.update(sessions).set({ status: "completed" }).where(eq(sessions.id, s2.id));
    const list = async (q: string) =>
      (await ctx.app.inject({ method: "GET", url: `/api/sessions${q}`, headers: u.headers })).json() as {
        data: { id: string }[];
        pagination: { total: number };
      };
    expect((await list("")).data.map((s) => s.id)).toEqual([s3.id, s2.id, s1.id]);
    expect((await list("?status=completed")).data.map((s) => s.id)).toEqual([s2.id]);
    expect((await list(`?personaId=${p2.id}`)).data.map((s) => s.id)).toEqual([s3.id, s2.id]);
    expect((await list(`?agentId=${a1.id}&status=pending`)).pagination.total).toBe(2);
    expect((await list("?agentId=test-agent")).data).toEqual([]);
    expectError(
      await ctx.app.inject({ method: "GET", url: "/api/sessions?status=sleeping", headers: u.headers }),
      422,
      "VALIDATION_ERROR",
    );
  });

  it("hides another user's session on every verb (404)", async () => {
    const s = await startSession(ctx.app, user, { agentId: agent.id, personaId: persona.id });
    const stranger = await registerUser(ctx.app);
    for (const [method, url, payload] of [
      ["GET", `/api/sessions/${s.id}`],
      ["DELETE", `/api/sessions/${s.id}`],
      ["POST", `/api/sessions/${s.id}/messages`, { senderType: "agent", content: "hi" }],
    ] as const) {
      const res = await ctx.app.inject({
        method,
        url,
        headers: stranger.headers,
        ...(payload ? { payload } : {}),
      });
      expect(expectError(res, 404, "RESOURCE_NOT_FOUND").message).toBe("Session not found");
    }
    expect(
      (await ctx.app.inject({ method: "GET", url: "/api/sessions", headers: stranger.headers })).json().data,
    ).toEqual([]);
    const [row] = await ctx.db.db.select().from(sessions).where(eq(sessions.id, s.id));
    expect(row!.status).toBe("pending");
  });

  it("stops a pending session, and returns a finished one unchanged", async () => {
    const s = await startSession(ctx.app, user, { agentId: agent.id, personaId: persona.id });
    const stop = await ctx.app.inject({
      method: "DELETE",
      url: `/api/sessions/${s.id}`,
      headers: user.headers,
    });
    expect(stop.json()).toMatchObject({ id: s.id, status: "stopped", reason: "stopped by user" });
    const done = await startSession(ctx.app, user, { agentId: agent.id, personaId: persona.id });
    await ctx.db.db
      .update(sessions)
      .set({ status: "completed", reason: "goal reached" })
      .where(eq(sessions.id, done.id));
    const again = await ctx.app.inject({
      method: "DELETE",
      url: `/api/sessions/${done.id}`,
      headers: user.headers,
    });
    expect(again.json()).toMatchObject({ status: "completed", reason: "goal reached" });
  });

  it("lets the owner record messages of any sender, idempotently", async () => {
    const s = await startSession(ctx.app, user, { agentId: agent.id, personaId: persona.id });
    await ctx.app.inject({ method: "DELETE", url: `/api/sessions/${s.id}`, headers: user.headers });
    const post = (payload: object) =>
      ctx.app.inject({
        method: "POST",
        url: `/api/sessions/${s.id}/messages`,
        headers: user.headers,
        payload,
      });
    expect((await post({ senderType: "persona", content: "Where is my order?" })).statusCode).toBe(201);
    const id = "0b8d2b6e-5b2a-4f0e-9d3c-1f2e3d4c5b6a";
    expect((await post({ id, senderType: "agent", content: "On its way." })).statusCode).toBe(201);
    expect((await post({ id, senderType: "agent", content: "On its way." })).statusCode).toBe(200);
    expectError(await post({ senderType: "robot", content: "x" }), 422, "VALIDATION_ERROR");
    expectError(await post({ senderType: "agent", content: "" }), 422, "VALIDATION_ERROR");
    const got = await ctx.app.inject({ method: "GET", url: `/api/sessions/${s.id}`, headers: user.headers });
    expect(got.json().messages.map((m: { content: string }) => m.content)).toEqual([
      "Where is my order?",
      "On its way.",
    ]);
  });
});
