// A testing tool's defaults must fail a useless bot. The demo's persona (a goal, no checks of its own) talks to
// real bots on loopback: one that says "I like turtles.", an echo bot, a bot that only asks questions, silent
// webhook and WebSocket bots — every one fails by default — and the demo bot, which passes.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoReply } from "../../src/demo/bot.js";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { startWebhookBot, startWsBot, type WebhookBot, type WsBot } from "../support/bots.js";
import { createAgent, ENGINE_ENV, startSession, waitForEnd } from "./fixtures.js";

interface Judged {
  status: string;
  endReason: string | null;
  reason: string | null;
  checks: { type: string }[];
  result: {
    passed: boolean;
    checks: { type: string; status: string; detail: string }[];
  } | null;
}

let ctx: TestContext;
let user: TestUser;
let personaId: string;
const closers: (WebhookBot | WsBot)[] = [];

beforeAll(async () => {
  ctx = await createTestApp(ENGINE_ENV, { engine: true });
  user = await registerUser(ctx.app);
  const res = await ctx.app.inject({
    method: "POST",
    url: "/api/personas",
    headers: user.headers,
    payload: {
      name: "Late parcel",
      prompt:
        "You are a customer of an online shop. You ordered wireless headphones ten days ago and the parcel is late. You are polite but you want a clear answer quickly.",
      traits: { communication_style: "direct", patience_level: "low", urgency: "high" },
      goal: "get a new delivery date",
      seed: 11,
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  personaId = res.json().id;
});
afterAll(async () => {
  await ctx.close();
  await Promise.all(closers.map((c) => c.close()));
});

async function webhook(reply: (content: string, n: number) => string | null) {
  let n = 0;
  const bot = await startWebhookBot((m) => {
    const text = reply(m.content, ++n);
    return text === null ? { status: 204 } : { status: 200, body: { reply: text } };
  });
  closers.push(bot);
  return { type: "webhook", config: { webhook_url: bot.url } };
}

/** Runs the persona against the agent with only the persona's default checks, and waits for the verdict. */
async function judge(agent: { type: string; config: Record<string, unknown> }): Promise<Judged> {
  const { id: agentId } = await createAgent(ctx.app, user, agent.config, agent.type);
  const created = await startSession(ctx.app, user, {
    agentId,
    personaId,
    config: { messageInterval: 0, replyTimeout: 0.5, maxMessages: 16, duration: 60 },
  });
  await waitForEnd(ctx.app, user, created.id, 60_000);
  let session: Judged | undefined;
  await expect
    .poll(
      async () => {
        session = (
          await ctx.app.inject({ method: "GET", url: `/api/sessions/${created.id}`, headers: user.headers })
        ).json();
        return session?.result !== null;
      },
      { timeout: 10_000 },
    )
    .toBe(true);
  return session!;
}

const failed = (session: Judged) =>
  session.result!.checks.filter((c) => c.status === "failed").map((c) => c.type);

describe("default verdicts", () => {
  it("fail the turtle, echo, question-only and silent bots, and pass the demo bot", async () => {
    const silentWs = await startWsBot({ reply: () => [] });
    closers.push(silentWs);
    const [turtle, echo, questions, silent, silentSocket, demo] = await Promise.all([
      webhook(() => "I like turtles.").then(judge),
      webhook((content) => `You said: ${content}`).then(judge),
      webhook((_, n) =>
        n % 2 ? "Could you tell me a bit more about that?" : "What is your order number, please?",
      ).then(judge),
      webhook(() => null).then(judge),
      judge({ type: "websocket", config: { url: silentWs.url } }),
      webhook((content) => demoReply(content)).then(judge),
    ]);

    // The session records the checks it ran: the persona's goal implies goal_reached; all_answered is a default.
    expect(demo.checks).toEqual([{ type: "goal_reached" }, { type: "all_answered" }]);
    expect(demo).toMatchObject({ status: "completed", endReason: "goal_reached" });
    expect(demo.result!.passed).toBe(true);

    for (const bad of [turtle, echo, questions, silent, silentSocket]) {
      expect(bad.result!.passed, JSON.stringify(bad)).toBe(false);
      expect(failed(bad)).toContain("goal_reached");
      // It ended as data: the persona gave up, or a limit came first.
      expect(["persona_gave_up", "message_limit", "duration_limit"]).toContain(bad.endReason);
    }
    expect(turtle).toMatchObject({
      endReason: "persona_gave_up",
      reason: "persona gave up: agent kept repeating itself",
    });
    expect(failed(turtle)).toEqual(["completed", "goal_reached"]);
    for (const bot of [silent, silentSocket]) {
      expect(failed(bot)).toContain("all_answered");
      expect(bot.result.checks.find((c) => c.type === "all_answered")!.detail).toMatch(
        /^persona messages? [\d, ]+ got no reply$/,
      );
    }
    const goal = turtle.result.checks.find((c) => c.type === "goal_reached")!;
    expect(goal.detail).toBe("goal not reached before the persona gave up");
  });
});
