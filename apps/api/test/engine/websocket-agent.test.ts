import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { startWsBot, type WsBot } from "../support/bots.js";
import { createAgent, createPersona, ENGINE_ENV, startSession, waitForEnd } from "./fixtures.js";

let ctx: TestContext;
let user: TestUser;
const bots: WsBot[] = [];
beforeAll(async () => {
  ctx = await createTestApp(ENGINE_ENV, { engine: true });
  user = await registerUser(ctx.app);
});
afterAll(async () => {
  await ctx.close();
  await Promise.all(bots.map((b) => b.close()));
});

describe("a session against a WebSocket bot", () => {
  it("dials the bot, records its greeting first (the agent speaks first), then exchanges frames", async () => {
    const bot = await startWsBot({ greeting: "Welcome to ShopCo! How can I help?" });
    bots.push(bot);
    const persona = await createPersona(ctx.app, user, { goal: null });
    const agent = await createAgent(
      ctx.app,
      user,
      { url: bot.url, api_key: "ws-bot-key-123456" },
      "websocket",
    );
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 5, messageInterval: 0.05, replyTimeout: 2 },
    });
    const done = await waitForEnd(ctx.app, user, created.id);
    expect(done).toMatchObject({ status: "completed", reason: "message limit reached" });
    expect(done.messages.map((m) => m.senderType)).toEqual(["agent", "persona", "agent", "persona", "agent"]);
    expect(done.messages[0]!.content).toBe("Welcome to ShopCo! How can I help?");
    expect(done.messages[2]!.content).toBe(`Echo: ${done.messages[1]!.content}`);
    expect(done.messages[2]!.latencyMs).toBeGreaterThanOrEqual(0);
    expect(bot.received.map((r) => r.messageId)).toEqual(
      done.messages.filter((m) => m.senderType === "persona").map((m) => m.id),
    );
    expect(bot.received.every((r) => r.sessionId === created.id)).toBe(true);
    expect(bot.authorization[0]).toBe("Bearer ws-bot-key-123456");
    expect(bot.connections).toBe(1);
    // Closed at the end of the session.
    await expect.poll(() => bot.open()).toBe(0);
  });

  it("records several frames per persona message", async () => {
    const bot = await startWsBot({ reply: (c) => [`Got it: ${c.slice(0, 10)}`, "Anything else?"] });
    bots.push(bot);
    const persona = await createPersona(ctx.app, user, { goal: null });
    const agent = await createAgent(ctx.app, user, { url: bot.url }, "websocket");
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 6, messageInterval: 0.3, replyTimeout: 2 },
    });
    const done = await waitForEnd(ctx.app, user, created.id);
    expect(done.messages.map((m) => m.senderType)).toEqual([
      "persona",
      "agent",
      "agent",
      "persona",
      "agent",
      "agent",
    ]);
    expect(done.messages[2]!.content).toBe("Anything else?");
  });

  it("redials a bot that drops the connection within a session", async () => {
    const bot = await startWsBot({ hangUpAfterReply: true });
    bots.push(bot);
    const persona = await createPersona(ctx.app, user, { goal: null });
    const agent = await createAgent(ctx.app, user, { url: bot.url }, "websocket");
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 6, messageInterval: 0.1, replyTimeout: 2 },
    });
    const done = await waitForEnd(ctx.app, user, created.id);
    expect(done).toMatchObject({ status: "completed", reason: "message limit reached" });
    expect(done.messages.map((m) => m.senderType)).toEqual([
      "persona",
      "agent",
      "persona",
      "agent",
      "persona",
      "agent",
    ]);
    expect(bot.connections).toBe(3);
  });

  it("fails the session when the bot refuses the connection", async () => {
    const persona = await createPersona(ctx.app, user);
    const agent = await createAgent(ctx.app, user, { url: "ws://127.0.0.1:9/chat" }, "websocket");
    const created = await startSession(ctx.app, user, { agentId: agent.id, personaId: persona.id });
    const done = await waitForEnd(ctx.app, user, created.id);
    expect(done.status).toBe("failed");
    expect(done.reason).toMatch(/^agent unreachable: WebSocket connection failed/);
  });
});
