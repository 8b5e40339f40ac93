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

  it("puts the goal into its sentence grammatically, whatever the goal's casing and person", async () => {
    const first = await next([], { goal: "Get your money back.", traits: {} });
    expect(first.content).toBe("Hi there! I ordered a product online. I'd like to get my money back.");
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

  it("answers the agent's question with a plausible detail, the same one each time it is asked", async () => {
    const t: TranscriptLine[] = [
      { senderType: "persona", content: "Hi." },
      { senderType: "agent", content: "Could you give me your order number?" },
    ];
    const reply = await next(t);
    const order = /order (?:number )?is #(\d{6})\.$|order #(\d{6})\.$/.exec(reply.content);
    expect(order).not.toBeNull();
    const again = await next([
      ...t,
      { senderType: "persona", content: reply.content },
      { senderType: "agent", content: "Sorry, what was the order number again?" },
    ]);
    expect(again.content).toContain(`#${order![1] ?? order![2]}`);
    expect(again.content).not.toBe(reply.content);
    expect(again.giveUp).toBeUndefined();
  });

  it("pushes back when the reply is off-topic, and asks for its goal again", async () => {
    const reply = await next([
      { senderType: "persona", content: "Hi." },
      { senderType: "agent", content: "Our summer sale starts on Monday with great discounts." },
    ]);
    expect(reply.content).toMatch(
      /^(That doesn't answer my question|That has nothing to do|That's not what I asked)/,
    );
    expect(reply.content).toMatch(/refund/);
    expect(reply).toMatchObject({ goalReached: false });
  });

  it("asks again when the agent did not answer", async () => {
    const reply = await next([
      { senderType: "persona", content: "Hi." },
      { senderType: "system", content: "No reply from the agent within 10 s." },
    ]);
    expect(reply.content).toMatch(/anyone|waiting|nobody/i);
    expect(reply.giveUp).toBeUndefined();
  });

  it("escalates, then gives up sooner when impatient than when patient", async () => {
    const stalled = (rounds: number): TranscriptLine[] =>
      Array.from({ length: rounds }, (_, i) => [
        { senderType: "persona" as const, content: `Message ${i}.` },
        { senderType: "agent" as const, content: "Please hold." },
      ]).flat();
    expect((await next(stalled(2))).content).toMatch(/human|real person|someone|patience/i);
    expect((await next(stalled(3))).giveUp).toBe("agent kept repeating itself");
    const patient = { traits: { patience_level: "high" } };
    expect((await next(stalled(3), patient)).giveUp).toBeUndefined();
    expect((await next(stalled(4), patient)).content).toMatch(/person|colleague|someone/i);
    const last = await next(stalled(5), patient);
    expect(last).toMatchObject({ goalReached: false, giveUp: "agent kept repeating itself" });
  });

  it("thanks and ends when the agent's reply answers its goal", async () => {
    const reply = await next([
      { senderType: "persona", content: "Hi." },
      { senderType: "agent", content: "I have processed a refund for you." },
    ]);
    expect(reply.goalReached).toBe(true);
    expect(reply.giveUp).toBeUndefined();
    expect(reply.content).toMatch(/thank/i);
  });
});

describe("goalCovered", () => {
  const asked = ["Hi. My headphones from Monday are late. I'd like to get a new delivery date."];
  const covered = (reply: string, goal = "get a new delivery date") => goalCovered(goal, [reply], asked);

  it("accepts an affirmative, concrete answer", () => {
    expect(covered("Your new delivery date is Thursday.")).toBe(true);
    expect(covered("Sorry for the wait! Your delivery date is now the 14th, does that work for you?")).toBe(
      true,
    );
    expect(covered("Your refund has been issued and will reach your card in 3–5 days.", "get a refund")).toBe(
      true,
    );
    expect(covered("I have processed a refund for you.", "get a refund")).toBe(true);
  });

  it("rejects questions, negations and hedges", () => {
    expect(covered("Would you like a new delivery date?")).toBe(false);
    expect(covered("I can't give you a delivery date.")).toBe(false);
    expect(covered("There is no delivery date for it yet, maybe Thursday.")).toBe(false);
    expect(covered("I don't know your delivery date, I'll check on Monday.")).toBe(false);
    expect(covered("I've sent your refund request to the team.", "get a refund")).toBe(false);
  });

  it("rejects replies that name the goal without answering it", () => {
    expect(covered("We deliver every day.")).toBe(false);
    expect(covered("I can help you with a new delivery date.")).toBe(false);
    expect(covered("Refunds are great.", "get a refund")).toBe(false);
    expect(covered("All set!", "get a refund")).toBe(false);
  });

  it("rejects the persona's own words quoted back, even when they carry a date", () => {
    expect(covered(`You said: ${asked[0]}`)).toBe(false);
    const lines = ["I'd like to get a new delivery date, ideally Friday the 12th."];
    expect(goalCovered("get a new delivery date", [`You said: ${lines[0]}`], lines)).toBe(false);
    expect(goalCovered("get a new delivery date", [`"${lines[0]}" Noted.`], lines)).toBe(false);
    expect(goalCovered("get a new delivery date", ["Your new delivery date is Friday the 12th."], [])).toBe(
      true,
    );
  });

  it("without a goal, only a completed action counts", () => {
    expect(goalCovered(null, ["Your account has been reset."], [])).toBe(true);
    expect(goalCovered(null, ["Thanks for your message."], [])).toBe(false);
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
