// One delivery attempt may take as long as the agent is allowed (`timeout_ms`, else MIMIC_AGENT_TIMEOUT_MS):
// connect, send, wait and read. Slow bots on loopback answer after 6 s and 30 s; the lease is kept alive while
// the attempt is in flight, so no other worker delivers the same message meanwhile.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { startWebhookBot, type WebhookBot } from "../support/bots.js";
import { createAgent, createPersona, startSession, waitForEnd } from "./fixtures.js";

const bots: WebhookBot[] = [];
async function slowBot(delayMs: number) {
  const bot = await startWebhookBot(() => ({
    status: 200,
    body: { reply: "Your new delivery date is Friday." },
    delayMs,
  }));
  bots.push(bot);
  return bot;
}

/** A one-exchange session (persona message, one reply) against `agentConfig`. */
async function exchange(ctx: TestContext, user: TestUser, agentConfig: Record<string, unknown>) {
  const persona = await createPersona(ctx.app, user);
  const agent = await createAgent(ctx.app, user, agentConfig);
  const created = await startSession(ctx.app, user, {
    agentId: agent.id,
    personaId: persona.id,
    config: { maxMessages: 2, messageInterval: 0, duration: 120 },
  });
  return waitForEnd(ctx.app, user, created.id, 90_000);
}

afterAll(async () => {
  await Promise.all(bots.map((b) => b.close()));
});

describe("with the agent's timeout_ms (server default 2 s, one attempt)", () => {
  let ctx: TestContext;
  let user: TestUser;
  beforeAll(async () => {
    ctx = await createTestApp(
      {
        MIMIC_ALLOW_PRIVATE_TARGETS: "true",
        MIMIC_ENGINE_POLL_MS: "20",
        MIMIC_AGENT_TIMEOUT_MS: "2000",
        MIMIC_AGENT_MAX_ATTEMPTS: "1",
        // Shorter than the slow bots: only the lease heartbeat keeps the session with its worker.
        MIMIC_ENGINE_LEASE_MS: "2000",
      },
      { engine: true },
    );
    user = await registerUser(ctx.app);
  });
  afterAll(() => ctx.close());

  it.concurrent("records a reply that took 6 s when timeout_ms allows 20 s", async () => {
    const bot = await slowBot(6_000);
    const done = await exchange(ctx, user, { webhook_url: bot.url, timeout_ms: 20_000 });
    expect(done.status, done.reason ?? "").toBe("completed");
    const reply = done.messages.find((m) => m.senderType === "agent");
    expect(reply?.content).toBe("Your new delivery date is Friday.");
    expect(reply?.latencyMs).toBeGreaterThanOrEqual(6_000);
    expect(bot.received).toHaveLength(1);
  });

  it.concurrent("records a reply that took 30 s when timeout_ms allows 40 s, delivered once", async () => {
    const bot = await slowBot(30_000);
    const done = await exchange(ctx, user, { webhook_url: bot.url, timeout_ms: 40_000 });
    expect(done.status, done.reason ?? "").toBe("completed");
    expect(done.messages.find((m) => m.senderType === "agent")?.latencyMs).toBeGreaterThanOrEqual(30_000);
    // The 2 s lease expired fifteen times over during the wait: the heartbeat kept it, nobody redelivered.
    expect(bot.received).toHaveLength(1);
  });

  it.concurrent("fails with an honest reason when the bot outlasts timeout_ms", async () => {
    const bot = await slowBot(6_000);
    const done = await exchange(ctx, user, { webhook_url: bot.url, timeout_ms: 3_000 });
    expect(done.status).toBe("failed");
    expect(done.reason).toBe("agent unreachable: no reply within 3 s");
  });
});

describe("with MIMIC_AGENT_TIMEOUT_MS only", () => {
  let ctx: TestContext;
  let user: TestUser;
  beforeAll(async () => {
    ctx = await createTestApp(
      {
        MIMIC_ALLOW_PRIVATE_TARGETS: "true",
        MIMIC_ENGINE_POLL_MS: "20",
        MIMIC_AGENT_TIMEOUT_MS: "35000",
        MIMIC_AGENT_MAX_ATTEMPTS: "1",
      },
      { engine: true },
    );
    user = await registerUser(ctx.app);
  });
  afterAll(() => ctx.close());

  it.concurrent("records replies that took 6 s and 30 s", async () => {
    const [six, thirty] = await Promise.all([slowBot(6_000), slowBot(30_000)]);
    const [a, b] = await Promise.all([
      exchange(ctx, user, { webhook_url: six.url }),
      exchange(ctx, user, { webhook_url: thirty.url }),
    ]);
    expect([a.status, b.status]).toEqual(["completed", "completed"]);
    expect(a.messages.find((m) => m.senderType === "agent")?.latencyMs).toBeGreaterThanOrEqual(6_000);
    expect(b.messages.find((m) => m.senderType === "agent")?.latencyMs).toBeGreaterThanOrEqual(30_000);
  });

  it.concurrent("fails a 6 s bot when the server allows 5 s", async () => {
    const strict = await createTestApp(
      {
        MIMIC_ALLOW_PRIVATE_TARGETS: "true",
        MIMIC_ENGINE_POLL_MS: "20",
        MIMIC_AGENT_TIMEOUT_MS: "5000",
        MIMIC_AGENT_MAX_ATTEMPTS: "1",
      },
      { engine: true },
    );
    try {
      const owner = await registerUser(strict.app);
      const bot = await slowBot(6_000);
      const done = await exchange(strict, owner, { webhook_url: bot.url });
      expect(done.status).toBe("failed");
      expect(done.reason).toBe("agent unreachable: no reply within 5 s");
    } finally {
      await strict.close();
    }
  });
});
