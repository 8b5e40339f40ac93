import { messages, sessions } from "@mimic/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, expectError, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { startWebhookBot, type WebhookBot } from "../support/bots.js";
import { createAgent, createPersona, ENGINE_ENV, getSession, startSession, waitForEnd } from "./fixtures.js";

let ctx: TestContext;
let user: TestUser;
const bots: WebhookBot[] = [];
beforeAll(async () => {
  ctx = await createTestApp(ENGINE_ENV, { engine: true });
  user = await registerUser(ctx.app);
});
afterAll(async () => {
  await ctx.close();
  await Promise.all(bots.map((b) => b.close()));
});

async function bot(...args: Parameters<typeof startWebhookBot>) {
  const b = await startWebhookBot(...args);
  bots.push(b);
  return b;
}

/** A session of a goal-less persona against `webhookUrl`, played to its end. */
async function playedAgainst(webhookUrl: string, config: Record<string, number>, agentConfig = {}) {
  const persona = await createPersona(ctx.app, user, { goal: null });
  const agent = await createAgent(ctx.app, user, { webhook_url: webhookUrl, ...agentConfig });
  const created = await startSession(ctx.app, user, { agentId: agent.id, personaId: persona.id, config });
  return waitForEnd(ctx.app, user, created.id);
}

/** Who wrote each message of three persona turns, each answered once. */
const THREE_TURNS = ["persona", "agent", "persona", "agent", "persona", "agent"];

/** When each persona message was written, in ms. */
const personaTimes = (done: Awaited<ReturnType<typeof waitForEnd>>) =>
  done.messages.filter((m) => m.senderType === "persona").map((m) => Date.parse(m.timestamp));

describe("a session against a webhook bot", () => {
  it("plays persona and agent turns in order, signed, until maxMessages, with reply latencies", async () => {
    const hook = await bot(
      (m) => ({ status: 200, body: { reply: `Let me check that (${m.content.length})` }, delayMs: 30 }),
      "whsec_test_secret_1",
    );
    const persona = await createPersona(ctx.app, user);
    const agent = await createAgent(ctx.app, user, { webhook_url: hook.url, secret: "whsec_test_secret_1" });
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 6, messageInterval: 0, replyTimeout: 2, duration: 60 },
      metadata: { build: "ci-123" },
    });
    expect(created).toMatchObject({
      status: "pending",
      config: { maxMessages: 6, messageInterval: 0, replyTimeout: 2, duration: 60 },
    });
    expect(created.metadata).toMatchObject({ build: "ci-123", messageCount: 0 });

    const done = await waitForEnd(ctx.app, user, created.id);
    expect(done.status).toBe("completed");
    expect(done.reason).toBe("message limit reached");
    expect(done.messages.map((m) => m.senderType)).toEqual(THREE_TURNS);
    expect(done.metadata).toMatchObject({ build: "ci-123", messageCount: 6 });
    for (const reply of done.messages.filter((m) => m.senderType === "agent")) {
      expect(reply.latencyMs).toBeGreaterThanOrEqual(30);
      expect(reply.content).toMatch(/^Let me check that/);
    }
    // The bot received exactly the persona's messages, each once, signed and with the documented payload.
    const personaMessages = done.messages.filter((m) => m.senderType === "persona");
    expect(hook.received.map((r) => r.messageId)).toEqual(personaMessages.map((m) => m.id));
    expect(hook.received.every((r) => r.signatureValid)).toBe(true);
    expect(hook.received[0]).toMatchObject({
      sessionId: created.id,
      persona: { id: persona.id, name: "Late parcel" },
    });
  });

  it("takes config defaults from the persona, then from the server", async () => {
    const hook = await bot();
    const persona = await createPersona(ctx.app, user, { config: { messageInterval: 1, maxMessages: 4 } });
    const agent = await createAgent(ctx.app, user, { webhook_url: hook.url });
    const created = await startSession(ctx.app, user, { agentId: agent.id, personaId: persona.id });
    expect(created.config).toEqual({ messageInterval: 1, maxMessages: 4, duration: 300, replyTimeout: 30 });
    await ctx.app.inject({ method: "DELETE", url: `/api/sessions/${created.id}`, headers: user.headers });
  });

  it("ends with goal reached when the agent's answer covers the persona's goal", async () => {
    const hook = await bot((m) =>
      m.content.includes("#")
        ? { status: 200, body: { reply: "Your new delivery date is Thursday." } }
        : { status: 200, body: { replies: ["Sorry about that!", "What is your order number?"] } },
    );
    const persona = await createPersona(ctx.app, user);
    const agent = await createAgent(ctx.app, user, { webhook_url: hook.url });
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 50, messageInterval: 0, replyTimeout: 2 },
    });
    const done = await waitForEnd(ctx.app, user, created.id);
    expect(done).toMatchObject({ status: "completed", reason: "goal reached" });
    const lines = done.messages.map((m) => `${m.senderType}: ${m.content}`);
    expect(lines[1]).toBe("agent: Sorry about that!");
    expect(lines[2]).toBe("agent: What is your order number?");
    expect(lines[3]).toMatch(/^persona: It's order #\d+\.$/);
    expect(lines[4]).toBe("agent: Your new delivery date is Thursday.");
    // The persona's goodbye is delivered too; the bot's answers to it close the transcript.
    expect(lines[5]).toMatch(/^persona: .*(thank|Thank)/);
    expect(lines.slice(6)).toEqual(["agent: Sorry about that!", "agent: What is your order number?"]);
  });

  it("ends at the duration limit", async () => {
    const hook = await bot();
    // A long script keeps the persona talking to the echo bot (it would give up on it otherwise).
    const persona = await createPersona(ctx.app, user, {
      goal: null,
      script: Array.from({ length: 30 }, (_, i) => `Line ${i + 1}.`),
    });
    const agent = await createAgent(ctx.app, user, { webhook_url: hook.url });
    const started = Date.now();
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { duration: 1.5, messageInterval: 0.2, maxMessages: 1000, replyTimeout: 1 },
    });
    const done = await waitForEnd(ctx.app, user, created.id);
    expect(done).toMatchObject({ status: "completed", reason: "duration limit reached" });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    // Ends on time: within a few polls of the limit (generous for loaded CI machines).
    expect(elapsed).toBeLessThan(8000);
    expect(done.messages.length).toBeGreaterThanOrEqual(4);
  });

  it("paces persona messages by messageInterval, counted from one persona message to the next", async () => {
    // The bot's 250 ms are part of the interval, not added to it.
    const hook = await bot(() => ({ status: 200, body: { reply: "Noted." }, delayMs: 250 }));
    const done = await playedAgainst(hook.url, { maxMessages: 10, messageInterval: 0.6, replyTimeout: 2 });
    const times = personaTimes(done);
    expect(times).toHaveLength(5);
    const mean = (times[4]! - times[0]!) / 4;
    expect(mean).toBeGreaterThanOrEqual(590);
    expect(mean).toBeLessThan(800); // 850 when the interval starts at the reply
    // Never before the bot's answer is in.
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(250);
  });

  it("answers a bot slower than messageInterval as soon as its reply is in", async () => {
    const hook = await bot(() => ({ status: 200, body: { reply: "Let me think… done." }, delayMs: 700 }));
    const done = await playedAgainst(hook.url, { maxMessages: 6, messageInterval: 0.5, replyTimeout: 2 });
    expect(done.messages.map((m) => m.senderType)).toEqual(THREE_TURNS);
    const at = done.messages.map((m) => Date.parse(m.timestamp));
    for (const i of [2, 4]) {
      const sinceReply = at[i]! - at[i - 1]!;
      expect(sinceReply).toBeGreaterThanOrEqual(0);
      expect(sinceReply).toBeLessThan(400); // ≥ 500 when the interval starts at the reply
    }
  });

  it("stops mid-run on DELETE, keeps the transcript, and is idempotent afterwards", async () => {
    const hook = await bot();
    const persona = await createPersona(ctx.app, user, { goal: null });
    const agent = await createAgent(ctx.app, user, { webhook_url: hook.url });
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 1000, messageInterval: 0.1, replyTimeout: 1, duration: 600 },
    });
    await expect
      .poll(async () => (await getSession(ctx.app, user, created.id)).messages.length, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(4);
    const stop = await ctx.app.inject({
      method: "DELETE",
      url: `/api/sessions/${created.id}`,
      headers: user.headers,
    });
    expect(stop.statusCode).toBe(200);
    expect(stop.json()).toMatchObject({ id: created.id, status: "stopped", reason: "stopped by user" });
    const kept = (await getSession(ctx.app, user, created.id)).messages.length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    const after = await getSession(ctx.app, user, created.id);
    expect(after.status).toBe("stopped");
    // At most the turn that was in flight when the stop landed.
    expect(after.messages.length).toBeLessThanOrEqual(kept + 1);
    const again = await ctx.app.inject({
      method: "DELETE",
      url: `/api/sessions/${created.id}`,
      headers: user.headers,
    });
    expect(again.json()).toMatchObject({ status: "stopped" });
  });

  it("fails with the reason when the bot cannot be reached, after bounded retries", async () => {
    const hook = await bot(() => ({ status: 503 }));
    const persona = await createPersona(ctx.app, user);
    const agent = await createAgent(ctx.app, user, { webhook_url: hook.url });
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { messageInterval: 0 },
    });
    const done = await waitForEnd(ctx.app, user, created.id);
    expect(done.status).toBe("failed");
    expect(done.reason).toBe("agent unreachable: agent answered HTTP 503");
    expect(hook.received).toHaveLength(3);
    expect(new Set(hook.received.map((r) => r.messageId)).size).toBe(1);
    // The persona message is in the transcript once, whatever the attempts.
    expect(done.messages.map((m) => m.senderType)).toEqual(["persona"]);
  });

  it("fails at once on a closed port and on a bot error (4xx) without retrying it", async () => {
    const persona = await createPersona(ctx.app, user);
    const closed = await createAgent(ctx.app, user, { webhook_url: "http://127.0.0.1:9/hook" });
    const s1 = await startSession(ctx.app, user, {
      agentId: closed.id,
      personaId: persona.id,
      config: { messageInterval: 0 },
    });
    const d1 = await waitForEnd(ctx.app, user, s1.id);
    expect(d1.status).toBe("failed");
    expect(d1.reason).toBe("agent unreachable: connection refused (ECONNREFUSED)");

    const broken = await bot(() => ({ status: 400, body: { error: "bad" } }));
    const rejecting = await createAgent(ctx.app, user, { webhook_url: broken.url });
    const s2 = await startSession(ctx.app, user, {
      agentId: rejecting.id,
      personaId: persona.id,
      config: { messageInterval: 0 },
    });
    const d2 = await waitForEnd(ctx.app, user, s2.id);
    expect(d2.reason).toBe("agent unreachable: agent answered HTTP 400");
    expect(broken.received).toHaveLength(1);
  });

  it("fails a session whose bot answers with something that is not a reply", async () => {
    const odd = await bot(() => ({ status: 200, body: { reply: 42 } }));
    const persona = await createPersona(ctx.app, user);
    const agent = await createAgent(ctx.app, user, { webhook_url: odd.url });
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { messageInterval: 0 },
    });
    const done = await waitForEnd(ctx.app, user, created.id);
    expect(done.reason).toMatch(/agent reply must be/);
  });
});

describe("asynchronous replies (202, then POST /api/sessions/{id}/messages with the agent's key)", () => {
  it("records replies posted later, with latency, and moves on to the next turn", async () => {
    const agentKey = "agent-key-async-0001";
    let base = "";
    const hook = await bot((m) => {
      setTimeout(() => {
        void fetch(`${base}/api/sessions/${m.sessionId}/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${agentKey}`, "content-type": "application/json" },
          body: JSON.stringify({ senderType: "agent", content: `Async answer to: ${m.content}` }),
        });
      }, 250);
      return { status: 202 };
    });
    await ctx.app.listen({ host: "127.0.0.1", port: 0 });
    base = `http://127.0.0.1:${(ctx.app.server.address() as { port: number }).port}`;
    const done = await playedAgainst(
      hook.url,
      { maxMessages: 6, messageInterval: 0.6, replyTimeout: 3 },
      { api_key: agentKey },
    );
    expect(done.messages.map((m) => m.senderType)).toEqual(THREE_TURNS);
    for (const reply of done.messages.filter((m) => m.senderType === "agent")) {
      expect(reply.content).toMatch(/^Async answer to: /);
      expect(reply.latencyMs).toBeGreaterThanOrEqual(240);
      expect(reply.latencyMs).toBeLessThan(3000);
    }
    // The interval runs from one persona message to the next, the wait for the reply included.
    const times = personaTimes(done);
    const mean = (times[2]! - times[0]!) / 2;
    expect(mean).toBeGreaterThanOrEqual(590);
    expect(mean).toBeLessThan(800); // 850 when the interval starts at the reply
  });

  it("notes a missing reply after replyTimeout and lets the persona go on", async () => {
    const hook = await bot(() => ({ status: 204 }));
    const persona = await createPersona(ctx.app, user, { goal: null });
    const agent = await createAgent(ctx.app, user, { webhook_url: hook.url });
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 2, messageInterval: 0, replyTimeout: 0.3 },
    });
    const done = await waitForEnd(ctx.app, user, created.id);
    expect(done.messages.map((m) => m.senderType)).toEqual(["persona", "system", "persona"]);
    expect(done.messages[1]!.content).toBe("No reply from the agent within 0.3 s.");
    expect(done.messages[2]!.content).toMatch(/\?|waiting|anyone/i);
  });

  it("authenticates the agent key per session, and accepts only agent messages to running sessions", async () => {
    const hook = await bot(() => ({ status: 202 }));
    const persona = await createPersona(ctx.app, user, { goal: null });
    const agent = await createAgent(ctx.app, user, {
      webhook_url: hook.url,
      api_key: "agent-key-0002-abcdef",
    });
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 100, messageInterval: 0, replyTimeout: 30 },
    });
    const post = (token: string, payload: object) =>
      ctx.app.inject({
        method: "POST",
        url: `/api/sessions/${created.id}/messages`,
        headers: { authorization: `Bearer ${token}` },
        payload,
      });
    expectError(await post("wrong-key", { senderType: "agent", content: "hi" }), 401, "AUTHENTICATION_ERROR");
    expectError(
      await post("agent-key-0002-abcdef", { senderType: "persona", content: "hi" }),
      403,
      "AUTHORIZATION_ERROR",
    );
    const id = "6f1c1c9e-8f0a-4c59-9a59-2d1f0f3e9b11";
    const first = await post("agent-key-0002-abcdef", {
      id,
      senderType: "agent",
      content: "Hello from the bot",
    });
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({
      id,
      sessionId: created.id,
      senderType: "agent",
      content: "Hello from the bot",
    });
    const replay = await post("agent-key-0002-abcdef", {
      id,
      senderType: "agent",
      content: "Hello from the bot",
    });
    expect(replay.statusCode).toBe(200);
    expect(await ctx.db.db.$count(messages, eq(messages.id, id))).toBe(1);
    await ctx.app.inject({ method: "DELETE", url: `/api/sessions/${created.id}`, headers: user.headers });
    expectError(
      await post("agent-key-0002-abcdef", { senderType: "agent", content: "late" }),
      409,
      "CONFLICT",
    );
    const [row] = await ctx.db.db.select().from(sessions).where(eq(sessions.id, created.id));
    expect(row!.status).toBe("stopped");
  });
});
