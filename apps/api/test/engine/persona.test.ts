import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemPrompt } from "../../src/engine/persona/openai.js";
import { goalCovered, scriptedPersona } from "../../src/engine/persona/scripted.js";
import type { PersonaProfile, TranscriptLine } from "../../src/engine/persona/types.js";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { type LlmServer, startLlmServer, startWebhookBot, type WebhookBot } from "../support/bots.js";
import { createAgent, createPersona, ENGINE_ENV, startSession, waitForEnd } from "./fixtures.js";

const persona: PersonaProfile = {
  id: "3b0c7c7e-1111-4c59-9a59-2d1f0f3e9b11",
  name: "Frustrated Customer",
  description: null,
  prompt:
    "You are a frustrated customer who ordered a product online. The order was delayed, and you're calling customer service to get help.",
  traits: { communication_style: "direct", patience_level: "low", urgency: "high" },
  goal: "get a refund",
  script: [],
  model: null,
  temperature: null,
  seed: 42,
};

const next = (transcript: TranscriptLine[], over: Partial<PersonaProfile> = {}, sessionId = "s1") =>
  scriptedPersona.next({
    sessionId,
    persona: { ...persona, ...over },
    transcript,
    turn: transcript.filter((l) => l.senderType === "persona").length,
  });

describe("the scripted persona", () => {
  it("opens with the problem from its prompt and its goal, in the first person", async () => {
    const first = await next([]);
    expect(first.goalReached).toBe(false);
    expect(first.content).toBe("Hi. I ordered a product online. I'd like to get a refund.");
  });

  it("says its script lines first, in order", async () => {
    const script = ["Hello, order #1234 never arrived.", "Are you there?"];
    expect((await next([], { script })).content).toBe(script[0]);
    const t: TranscriptLine[] = [
      { senderType: "persona", content: script[0]! },
      { senderType: "agent", content: "Hello!" },
    ];
    expect((await next(t, { script })).content).toBe(script[1]);
  });

  it("is deterministic for a seed and varies without one", async () => {
    const t: TranscriptLine[] = [
      { senderType: "persona", content: "Hi." },
      { senderType: "agent", content: "I see your order is delayed, we ship soon." },
    ];
    const a = await next(t, {}, "session-a");
    const b = await next(t, {}, "session-b");
    expect(a).toEqual(b);
    const unseeded = new Set<string>();
    for (let i = 0; i < 12; i++) unseeded.add((await next(t, { seed: null }, `session-${i}`)).content);
    expect(unseeded.size).toBeGreaterThan(1);
  });

  it("answers the agent's question with a plausible detail", async () => {
    const reply = await next([
      { senderType: "persona", content: "Hi." },
      { senderType: "agent", content: "Could you give me your order number?" },
    ]);
    expect(reply.content).toMatch(/^It's order #\d{6}\.$/);
  });

  it("pushes back when the reply is off-topic", async () => {
    const reply = await next([
      { senderType: "persona", content: "Hi." },
      { senderType: "agent", content: "Our summer sale starts on Monday with great discounts." },
    ]);
    expect(reply.content).toBe("That doesn't answer my question. I'd like to get a refund.");
  });

  it("asks again when the agent did not answer", async () => {
    const reply = await next([{ senderType: "persona", content: "Hi." }]);
    expect(reply.content).toMatch(/anyone|waiting|nobody/i);
  });

  it("thanks and ends when the agent's words cover its goal", async () => {
    const reply = await next([
      { senderType: "persona", content: "Hi." },
      { senderType: "agent", content: "I have processed a refund for you." },
    ]);
    expect(reply.goalReached).toBe(true);
    expect(reply.content).toMatch(/thank/i);
    expect(goalCovered("get a new delivery date", "Your new delivery date is Thursday")).toBe(true);
    expect(goalCovered("get a new delivery date", "We deliver every day")).toBe(false);
  });
});

describe("the openai persona, against an OpenAI-compatible server on loopback", () => {
  let ctx: TestContext;
  let user: TestUser;
  let llm: LlmServer;
  let bot: WebhookBot;
  let failNext = 0;

  beforeAll(async () => {
    llm = await startLlmServer((request, n) => {
      if (failNext > 0) {
        failNext--;
        return { status: 500 };
      }
      const turns = request.messages.filter((m) => m.role === "assistant").length;
      if (request.model === "slow-model") return { content: "too late", delayMs: 3000 };
      return { content: turns >= 2 ? "Perfect, thank you! [DONE]" : `Customer line ${n}` };
    });
    bot = await startWebhookBot(() => ({ status: 200, body: { reply: "Sure, I can help with that." } }));
    ctx = await createTestApp(
      {
        ...ENGINE_ENV,
        MIMIC_LLM_BASE_URL: llm.baseUrl,
        MIMIC_LLM_MODEL: "mimic-test-model",
        MIMIC_LLM_TIMEOUT_MS: "1000",
      },
      { engine: true },
    );
    user = await registerUser(ctx.app);
  });
  afterAll(async () => {
    await ctx.close();
    await llm.close();
    await bot.close();
  });

  it("plays the customer through the real client: prompt, transcript roles, model settings, usage, [DONE]", async () => {
    const p = await createPersona(ctx.app, user, {
      provider: "openai",
      model: "persona-model",
      temperature: 0.3,
      seed: 9,
    });
    const agent = await createAgent(ctx.app, user, { webhook_url: bot.url });
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: p.id,
      config: { messageInterval: 0 },
    });
    const done = await waitForEnd(ctx.app, user, created.id);
    expect(done).toMatchObject({ status: "completed", reason: "goal reached" });
    expect(done.messages.map((m) => `${m.senderType}: ${m.content}`)).toEqual([
      expect.stringMatching(/^persona: Customer line \d+$/),
      "agent: Sure, I can help with that.",
      expect.stringMatching(/^persona: Customer line \d+$/),
      "agent: Sure, I can help with that.",
      "persona: Perfect, thank you!",
      "agent: Sure, I can help with that.",
    ]);
    const mine = llm.requests.filter((r) => r.model === "persona-model");
    expect(mine).toHaveLength(3);
    expect(mine[0]).toMatchObject({ temperature: 0.3, seed: 9 });
    expect(mine[0].messages[0]!.role).toBe("system");
    expect(mine[0].messages[0]!.content).toContain("get a new delivery date");
    expect(mine[2]!.messages.slice(1).map((m) => m.role)).toEqual(["assistant", "user", "assistant", "user"]);
    expect(done.usage).toEqual({ promptTokens: 33, completionTokens: 21 });
  });

  it("uses MIMIC_LLM_MODEL when the persona names none, and retries a failing endpoint", async () => {
    failNext = 2;
    const p = await createPersona(ctx.app, user, { provider: "openai", model: null });
    const agent = await createAgent(ctx.app, user, { webhook_url: bot.url });
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: p.id,
      config: { messageInterval: 0 },
    });
    const done = await waitForEnd(ctx.app, user, created.id);
    expect(done).toMatchObject({ status: "completed", reason: "goal reached" });
    expect(llm.requests.some((r) => r.model === "mimic-test-model")).toBe(true);
  });

  it("fails the session with the reason when the endpoint keeps timing out", async () => {
    const p = await createPersona(ctx.app, user, { provider: "openai", model: "slow-model" });
    const agent = await createAgent(ctx.app, user, { webhook_url: bot.url });
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: p.id,
      config: { messageInterval: 0 },
    });
    const done = await waitForEnd(ctx.app, user, created.id, 30_000);
    expect(done.status).toBe("failed");
    expect(done.reason).toMatch(/^persona provider failed: LLM endpoint unreachable/);
    expect(done.messages).toEqual([]);
  });

  it("builds a system prompt that keeps the model in the customer's role", () => {
    const prompt = systemPrompt(persona);
    expect(prompt).toContain("CUSTOMER");
    expect(prompt).toContain("patience level: low");
    expect(prompt).toContain("Your goal: get a refund");
    expect(prompt).toContain("[DONE]");
  });
});
