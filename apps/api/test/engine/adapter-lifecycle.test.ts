// What the engine holds for a session (a WebSocket to the bot) is released whenever the session ends, whoever
// ends it: the engine itself, a stop through another process's API, a deleted persona or agent, or a change the
// process never heard of (found by its sweep). And maxMessages bounds everything recorded, floods included.
import { messages, sessions } from "@mimic/db";
import { eq } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { startWsBot, type WsBot } from "../support/bots.js";
import { createAgent, createPersona, getSession, startSession, waitForEnd } from "./fixtures.js";

let ctx: TestContext;
/** A second process on the same database: HTTP only, no engine — it never holds a bot connection. */
let api: FastifyInstance;
let user: TestUser;
const bots: WsBot[] = [];

beforeAll(async () => {
  ctx = await createTestApp(
    // A generous attempt timeout: these tests are about ends, and a busy machine can be slow to connect.
    { MIMIC_ALLOW_PRIVATE_TARGETS: "true", MIMIC_ENGINE_POLL_MS: "20", MIMIC_AGENT_TIMEOUT_MS: "15000" },
    { engine: true },
  );
  api = (await createTestApp({ MIMIC_ALLOW_PRIVATE_TARGETS: "true" }, { engine: false, db: ctx.db })).app;
  user = await registerUser(ctx.app);
});
afterAll(async () => {
  await api.close();
  await ctx.close();
  await Promise.all(bots.map((b) => b.close()));
});

/** A running session whose WebSocket bot is connected; returns the bot and the session's ids. */
async function connectedSession(e: typeof expect, config: object = {}) {
  const bot = await startWsBot({ reply: () => ["Let me check that for you."] });
  bots.push(bot);
  const script = Array.from({ length: 50 }, (_, i) => `Message ${i + 1}.`);
  const persona = await createPersona(ctx.app, user, { goal: null, script });
  const agent = await createAgent(ctx.app, user, { url: bot.url }, "websocket");
  const session = await startSession(ctx.app, user, {
    agentId: agent.id,
    personaId: persona.id,
    config: { messageInterval: 0.2, maxMessages: 200, duration: 60, ...config },
  });
  await e.poll(() => bot.open(), { timeout: 10_000 }).toBe(1);
  return { bot, session, persona, agent };
}

/** Within 2 s: by the end event, not by the sweep (every 5 s). Concurrent tests assert with their own `expect`. */
const closes = (e: typeof expect, bot: WsBot, timeout = 2_000) =>
  e.poll(() => bot.open(), { timeout }).toBe(0);

describe("bot connections close on every session end", () => {
  it.concurrent("when the session is stopped through another process's API", async ({ expect }) => {
    const { bot, session } = await connectedSession(expect);
    const res = await api.inject({
      method: "DELETE",
      url: `/api/sessions/${session.id}`,
      headers: user.headers,
    });
    expect(res.statusCode).toBe(200);
    await closes(expect, bot);
  });

  it.concurrent("when its persona is deleted", async ({ expect }) => {
    const { bot, persona } = await connectedSession(expect);
    const res = await api.inject({
      method: "DELETE",
      url: `/api/personas/${persona.id}`,
      headers: user.headers,
    });
    expect(res.statusCode).toBe(204);
    await closes(expect, bot);
  });

  it.concurrent("when its agent is deleted", async ({ expect }) => {
    const { bot, agent } = await connectedSession(expect);
    const res = await api.inject({ method: "DELETE", url: `/api/agents/${agent.id}`, headers: user.headers });
    expect(res.statusCode).toBe(204);
    await closes(expect, bot);
  });

  it.concurrent("when the engine ends it at a limit", async ({ expect }) => {
    const { bot, session } = await connectedSession(expect, { maxMessages: 6 });
    const done = await waitForEnd(ctx.app, user, session.id);
    expect(done.reason).toBe("message limit reached");
    await closes(expect, bot);
  });

  it.concurrent("when it ended without any event reaching this process (the sweep)", async ({ expect }) => {
    const { bot, session } = await connectedSession(expect);
    // Written straight to the database: no NOTIFY, as if the listener had been down at the time.
    await ctx.db.db
      .update(sessions)
      .set({ status: "stopped", endReason: "stopped", reason: "stopped elsewhere", endedAt: new Date() })
      .where(eq(sessions.id, session.id));
    await closes(expect, bot, 10_000);
  });
});

describe("maxMessages bounds what is recorded", () => {
  it("drops frames a WebSocket bot floods past the limit, and says so once", async () => {
    const flood = await startWsBot({ reply: () => Array.from({ length: 300 }, (_, i) => `Frame ${i}`) });
    bots.push(flood);
    const persona = await createPersona(ctx.app, user, { goal: null, script: ["One.", "Two."] });
    const agent = await createAgent(ctx.app, user, { url: flood.url }, "websocket");
    const session = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { messageInterval: 0.5, maxMessages: 10, replyTimeout: 2, duration: 30 },
    });
    const done = await waitForEnd(ctx.app, user, session.id);
    expect(done.status).toBe("completed");
    const rows = await ctx.db.db.select().from(messages).where(eq(messages.sessionId, session.id));
    const counted = rows.filter((m) => m.senderType !== "system");
    expect(counted).toHaveLength(10);
    expect(counted.filter((m) => m.senderType === "persona")).toHaveLength(1);
    const notes = rows.filter((m) => m.content.startsWith("The agent sent more than maxMessages"));
    expect(notes).toHaveLength(1);
    expect(notes[0]!.content).toBe(
      "The agent sent more than maxMessages (10) allows; further agent messages were not recorded.",
    );
    expect((await getSession(ctx.app, user, session.id)).messages).toHaveLength(11);
  });

  it("answers 409 to an agent reply past the limit, and records nothing", async () => {
    const persona = await createPersona(ctx.app, user, { goal: null });
    const agent = await createAgent(ctx.app, user, { webhook_url: "https://bot.example.com/hook" });
    const session = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { messageInterval: 3600, maxMessages: 2 },
    });
    const post = (count: number) =>
      ctx.app.inject({
        method: "POST",
        url: `/api/sessions/${session.id}/messages/batch`,
        headers: user.headers,
        payload: {
          messages: Array.from({ length: count }, (_, i) => ({ senderType: "agent", content: `R${i}` })),
        },
      });
    // The persona's first message takes one of the two places: room for one reply.
    await expect.poll(async () => (await getSession(ctx.app, user, session.id)).messages.length).toBe(1);
    const over = await post(2);
    expect(over.statusCode).toBe(409);
    expect(over.json().error.message).toBe(
      "The session reached its message limit (2); the reply was not recorded",
    );
    expect(await ctx.db.db.select().from(messages).where(eq(messages.sessionId, session.id))).toHaveLength(1);
    expect((await post(1)).statusCode).toBe(201);
    await api.inject({ method: "DELETE", url: `/api/sessions/${session.id}`, headers: user.headers });
  });
});
