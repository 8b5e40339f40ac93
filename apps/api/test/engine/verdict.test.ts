import { personas, sessions } from "@mimic/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, expectError, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { type LlmServer, startLlmServer, startWebhookBot, type WebhookBot } from "../support/bots.js";
import {
  createAgent,
  createPersona,
  ENGINE_ENV,
  type SessionBody,
  startSession,
  waitForEnd,
} from "./fixtures.js";

interface Verdict {
  passed: boolean;
  checks: { name: string; type: string; status: string; passed: boolean | null; detail: string }[];
}
type Judged = SessionBody & {
  result: Verdict | null;
  groupId: string | null;
  endReason: string | null;
  checks: object[];
};

let ctx: TestContext;
let user: TestUser;
let llm: LlmServer;
const bots: WebhookBot[] = [];

beforeAll(async () => {
  llm = await startLlmServer((request) => {
    const transcript = request.messages.at(-1)?.content ?? "";
    return {
      content: transcript.includes("refund")
        ? "PASS\nThe agent offered a refund."
        : "FAIL\nNo refund was offered.",
    };
  });
  ctx = await createTestApp(
    { ...ENGINE_ENV, MIMIC_LLM_BASE_URL: llm.baseUrl, MIMIC_LLM_MODEL: "judge-model" },
    { engine: true },
  );
  user = await registerUser(ctx.app);
});
afterAll(async () => {
  await ctx.close();
  await llm.close();
  await Promise.all(bots.map((b) => b.close()));
});

async function bot(reply: (content: string, n: number) => string, delayMs = 0) {
  let n = 0;
  const b = await startWebhookBot((m) => ({ status: 200, body: { reply: reply(m.content, ++n) }, delayMs }));
  bots.push(b);
  return b;
}

async function run(botUrl: string, checks: object[], extra: object = {}, personaBody: object = {}) {
  const persona = await createPersona(ctx.app, user, personaBody);
  const agent = await createAgent(ctx.app, user, { webhook_url: botUrl });
  const created = await startSession(ctx.app, user, {
    agentId: agent.id,
    personaId: persona.id,
    checks,
    config: { messageInterval: 0, replyTimeout: 1, maxMessages: 10 },
    ...extra,
  });
  return created;
}

/** Waits for the session to end and its verdict to be written. */
async function judged(id: string): Promise<Judged> {
  await waitForEnd(ctx.app, user, id);
  let session: Judged | undefined;
  await expect
    .poll(
      async () => {
        session = (
          await ctx.app.inject({ method: "GET", url: `/api/sessions/${id}`, headers: user.headers })
        ).json();
        return session?.result !== null;
      },
      { timeout: 10_000 },
    )
    .toBe(true);
  return session!;
}

describe("verdicts", () => {
  it("passes a session that meets every check, and says why for each", async () => {
    const b = await bot(
      (c) => (c.includes("#") ? "Your new delivery date is Thursday." : "Sorry! What is your order number?"),
      20,
    );
    const s = await run(b.url, [
      { type: "reply_within", ms: 2000 },
      { type: "all_answered" },
      { type: "must_match", pattern: "delivery date" },
      { type: "must_not_match", pattern: "\\m(damn|stupid)\\M" },
      { type: "goal_reached" },
    ]);
    const done = await judged(s.id);
    expect(done.status).toBe("completed");
    expect(done.result!.passed).toBe(true);
    // The persona's defaults (goal_reached for its goal, all_answered) come first; the session's own copies
    // of them run once.
    expect(done.result!.checks.map((c) => [c.type, c.status])).toEqual([
      ["completed", "passed"],
      ["goal_reached", "passed"],
      ["all_answered", "passed"],
      ["reply_within", "passed"],
      ["must_match", "passed"],
      ["must_not_match", "passed"],
    ]);
    const byType = Object.fromEntries(done.result!.checks.map((c) => [c.type, c]));
    expect(done.endReason).toBe("goal_reached");
    expect(byType.reply_within!.detail).toMatch(/^slowest reply \d+ ms$/);
    expect(byType.must_match!.detail).toMatch(/^1 matching, first: “Your new delivery date is Thursday\.”$/);
  });

  it("fails a session that breaks checks, naming what went wrong", async () => {
    const b = await bot(() => "Sorry, I cannot help with that.", 120);
    const s = await run(
      b.url,
      [
        { type: "reply_within", ms: 50 },
        { type: "must_not_match", pattern: "sorry" },
        { type: "must_match", pattern: "refund" },
        { type: "goal_reached" },
      ],
      { config: { messageInterval: 0, replyTimeout: 1, maxMessages: 4 } },
    );
    const done = await judged(s.id);
    expect(done).toMatchObject({ status: "completed", reason: "message limit reached" });
    expect(done.result!.passed).toBe(false);
    const byType = Object.fromEntries(done.result!.checks.map((c) => [c.type, c]));
    expect(byType.completed!.status).toBe("passed");
    expect(byType.reply_within!.detail).toMatch(/^2 of 2 replies slower than 50 ms \(slowest \d+ ms\)$/);
    expect(byType.must_not_match!.detail).toBe("2 matching, first: “Sorry, I cannot help with that.”");
    expect(byType.must_match!.detail).toBe("no agent message matches");
    expect(byType.goal_reached!.detail).toBe("goal not reached within 4 messages");
  });

  it("reports unanswered persona messages", async () => {
    const silent = await startWebhookBot(() => ({ status: 204 }));
    bots.push(silent);
    const s = await run(
      silent.url,
      [{ type: "all_answered" }],
      { config: { messageInterval: 0, replyTimeout: 0.2, maxMessages: 2 } },
      { goal: null },
    );
    const done = await judged(s.id);
    // Message 2 brought the session to its limit before the agent's reply timeout: it is not held against it.
    expect(done.result!.checks[1]).toMatchObject({
      status: "failed",
      detail: "persona message 1 got no reply",
    });
  });

  it("fails every session that failed, and gives stopped sessions no verdict", async () => {
    const down = await startWebhookBot(() => ({ status: 500 }));
    bots.push(down);
    const failed = await judged((await run(down.url, [])).id);
    expect(failed.status).toBe("failed");
    expect(failed.endReason).toBe("agent_error");
    expect(failed.result!.passed).toBe(false);
    expect(failed.result!.checks[0]).toMatchObject({
      type: "completed",
      status: "failed",
      detail: "agent unreachable: agent answered HTTP 500",
    });

    const slow = await bot(() => "ok", 0);
    const s = await run(
      slow.url,
      [],
      { config: { messageInterval: 5, replyTimeout: 1, maxMessages: 100 } },
      { goal: null },
    );
    await ctx.app.inject({ method: "DELETE", url: `/api/sessions/${s.id}`, headers: user.headers });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = (
      await ctx.app.inject({ method: "GET", url: `/api/sessions/${s.id}`, headers: user.headers })
    ).json();
    expect(stopped).toMatchObject({ status: "stopped", endReason: "stopped", result: null });
  });

  it("asks the LLM judge with the rubric and transcript", async () => {
    const b = await bot(() => "I have issued a refund to your card.");
    const s = await run(
      b.url,
      [{ type: "llm_judge", rubric: "The agent offers a refund" }],
      {},
      { goal: "get a refund" },
    );
    const done = await judged(s.id);
    expect(done.result!.checks.find((c) => c.type === "llm_judge")).toMatchObject({
      type: "llm_judge",
      status: "passed",
      passed: true,
      detail: "The agent offered a refund.",
    });
    const request = llm.requests.find((r) => r.model === "judge-model");
    expect(request.messages.at(-1)!.content).toContain("Rubric: The agent offers a refund");
    expect(request.messages.at(-1)!.content).toContain("AGENT: I have issued a refund to your card.");
  });

  it("refuses llm_judge checks and openai personas when no LLM is configured (422, nothing created)", async () => {
    const plain = await createTestApp(ENGINE_ENV, { engine: true });
    try {
      const u = await registerUser(plain.app);
      const persona = await createPersona(plain.app, u);
      const agent = await createAgent(plain.app, u, { webhook_url: "https://bot.example.com/hook" });
      const post = (payload: object) =>
        plain.app.inject({ method: "POST", url: "/api/sessions", headers: u.headers, payload });
      const judgeError = expectError(
        await post({
          agentId: agent.id,
          personaId: persona.id,
          checks: [{ type: "llm_judge", rubric: "Polite" }],
        }),
        422,
        "VALIDATION_ERROR",
      );
      expect(judgeError.details).toEqual([
        {
          field: "checks[0]",
          message: "llm_judge needs an LLM endpoint: set MIMIC_LLM_BASE_URL on the server",
        },
      ]);
      // A persona saved while an LLM was configured, used after it went away.
      const [llmPersona] = await plain.db.db
        .insert(personas)
        .values({ userId: u.id, name: "LLM", prompt: "p", provider: "openai" })
        .returning();
      const providerError = expectError(
        await post({ agentId: agent.id, personaId: llmPersona!.id }),
        422,
        "VALIDATION_ERROR",
      );
      expect(providerError.message).toContain("MIMIC_LLM_BASE_URL");
      expect(providerError.details?.[0]?.field).toBe("personaId");
      expect(await plain.db.db.select().from(sessions)).toHaveLength(0);
    } finally {
      await plain.close();
    }
  });

  it("uses the persona's checks by default and announces the verdict with session_end", async () => {
    const b = await bot(() => "Your new delivery date is Thursday.");
    const events: { type: string; data: { result?: Verdict } }[] = [];
    const persona = await createPersona(ctx.app, user, { checks: [{ type: "goal_reached" }] });
    const agent = await createAgent(ctx.app, user, { webhook_url: b.url });
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { messageInterval: 0.3 },
    });
    // The persona's own goal_reached is the one its goal implies: it runs once, beside all_answered.
    expect((created as unknown as { checks: unknown }).checks).toEqual([
      { type: "goal_reached" },
      { type: "all_answered" },
    ]);
    const unsubscribe = ctx.app.events.subscribe(created.id, (event) => events.push(event as never));
    await judged(created.id);
    await expect.poll(() => events.filter((e) => e.type === "session_end")).toHaveLength(1);
    unsubscribe();
    expect(events.find((e) => e.type === "session_end")!.data.result).toMatchObject({ passed: true });
  });

  it("combines the persona's defaults with the session's own, once each; inheritChecks: false opts out", async () => {
    const persona = await createPersona(ctx.app, user, {
      checks: [{ type: "must_not_match", pattern: "sorry" }],
    });
    const agent = await createAgent(ctx.app, user, { webhook_url: "https://bot.example.com/hook" });
    const create = async (body: object) => {
      const res = await ctx.app.inject({
        method: "POST",
        url: "/api/sessions",
        headers: user.headers,
        payload: { agentId: agent.id, personaId: persona.id, config: { messageInterval: 60 }, ...body },
      });
      expect(res.statusCode, res.body).toBe(201);
      const session = res.json();
      await ctx.app.inject({ method: "DELETE", url: `/api/sessions/${session.id}`, headers: user.headers });
      return session.checks;
    };
    expect(
      await create({
        checks: [
          { type: "reply_within", ms: 500 },
          { pattern: "sorry", type: "must_not_match" },
          { type: "all_answered" },
        ],
      }),
    ).toEqual([
      { type: "goal_reached" },
      { type: "all_answered" },
      { type: "must_not_match", pattern: "sorry" },
      { type: "reply_within", ms: 500 },
    ]);
    expect(await create({ inheritChecks: false, checks: [{ type: "reply_within", ms: 500 }] })).toEqual([
      { type: "reply_within", ms: 500 },
    ]);
    expect(await create({ inheritChecks: false })).toEqual([]);
    const noGoal = await createPersona(ctx.app, user, { goal: null });
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/sessions",
      headers: user.headers,
      payload: { agentId: agent.id, personaId: noGoal.id, config: { messageInterval: 60 } },
    });
    expect(res.json().checks).toEqual([{ type: "all_answered" }]);
    await ctx.app.inject({ method: "DELETE", url: `/api/sessions/${res.json().id}`, headers: user.headers });
  });

  it("rejects checks that cannot run: unknown types, bad fields, invalid patterns (422)", async () => {
    const persona = await createPersona(ctx.app, user);
    const agent = await createAgent(ctx.app, user, { webhook_url: "https://bot.example.com/hook" });
    const post = (checks: object[]) =>
      ctx.app.inject({
        method: "POST",
        url: "/api/sessions",
        headers: user.headers,
        payload: { agentId: agent.id, personaId: persona.id, checks },
      });
    expect(
      expectError(await post([{ type: "must_match", pattern: "(unclosed" }]), 422, "VALIDATION_ERROR")
        .details,
    ).toEqual([{ field: "checks[0].pattern", message: "is not a valid regular expression" }]);
    expect(expectError(await post([{ type: "vibes" }]), 422, "VALIDATION_ERROR").details?.[0]?.field).toMatch(
      /^checks\[0\]/,
    );
    expect(expectError(await post([{ type: "reply_within" }]), 422, "VALIDATION_ERROR").details).toEqual([
      { field: "checks[0].ms", message: "ms is required" },
    ]);
    const personaRes = await ctx.app.inject({
      method: "POST",
      url: "/api/personas",
      headers: user.headers,
      payload: { name: "P", prompt: "x", checks: [{ type: "must_not_match", pattern: "[z-a]" }] },
    });
    expect(expectError(personaRes, 422, "VALIDATION_ERROR").details?.[0]?.field).toBe("checks[0].pattern");
  });
});

describe("repeat groups", () => {
  it("runs a pair N times in total as a group and reports pass rate and pass^k", async () => {
    // Fails every other session: the bot apologises in odd-numbered sessions.
    const sessionsSeen = new Map<string, number>();
    const flaky = await startWebhookBot((m) => {
      if (!sessionsSeen.has(m.sessionId)) sessionsSeen.set(m.sessionId, sessionsSeen.size);
      const n = sessionsSeen.get(m.sessionId)!;
      return {
        status: 200,
        body: { reply: n % 2 === 0 ? "Your new delivery date is Thursday." : "Sorry, no idea." },
      };
    });
    bots.push(flaky);
    const created = await run(flaky.url, [{ type: "must_not_match", pattern: "sorry" }], {
      repeat: 2,
      inheritChecks: false,
      config: { messageInterval: 0, replyTimeout: 1, maxMessages: 4 },
    });
    expect(created.groupId).toMatch(/^[0-9a-f-]{36}$/);
    const first = (
      await ctx.app.inject({
        method: "GET",
        url: `/api/session-groups/${created.groupId}`,
        headers: user.headers,
      })
    ).json();
    expect(first.total).toBe(2);
    // The first group's sessions are seen first (numbers 0 and 1), so the next four are numbered 2–5 in whatever order
    // they start: exactly two of them pass.
    await expect
      .poll(
        async () =>
          (
            await ctx.app.inject({
              method: "GET",
              url: `/api/session-groups/${created.groupId}`,
              headers: user.headers,
            })
          ).json().finished,
        { timeout: 30_000 },
      )
      .toBe(2);
    // `times` is the number of runs too: a new group of 4 like this session.
    const more = await ctx.app.inject({
      method: "POST",
      url: `/api/sessions/${created.id}/repeat?times=4`,
      headers: user.headers,
    });
    expect(more.statusCode).toBe(201);
    expect(more.json().total).toBe(4);
    expect(more.json().id).not.toBe(created.groupId);
    const url = `/api/session-groups/${more.json().id}`;
    await expect
      .poll(
        async () => (await ctx.app.inject({ method: "GET", url, headers: user.headers })).json().finished,
        { timeout: 30_000 },
      )
      .toBe(4);
    const group = (await ctx.app.inject({ method: "GET", url, headers: user.headers })).json();
    expect(group).toMatchObject({ total: 4, finished: 4, passed: 2, passRate: 0.5 });
    // pass^k from 4 runs with 2 passes: C(2,k)/C(4,k) = 1/2, 1/6, 0, 0.
    expect(
      group.passHatK.map((p: { k: number; value: number }) => [p.k, Math.round(p.value * 1000) / 1000]),
    ).toEqual([
      [1, 0.5],
      [2, 0.167],
      [3, 0],
      [4, 0],
    ]);
    expect(group.runs.map((r: { passed: boolean }) => r.passed).filter(Boolean)).toHaveLength(2);
    expect(group.runs.every((r: { endReason: string | null }) => r.endReason !== null)).toBe(true);
    // The source session keeps its own group.
    const source = (
      await ctx.app.inject({ method: "GET", url: `/api/sessions/${created.id}`, headers: user.headers })
    ).json();
    expect(source.groupId).toBe(created.groupId);
    const stranger = await registerUser(ctx.app);
    expectError(
      await ctx.app.inject({ method: "GET", url, headers: stranger.headers }),
      404,
      "RESOURCE_NOT_FOUND",
    );
    expectError(
      await ctx.app.inject({
        method: "POST",
        url: `/api/sessions/${created.id}/repeat?times=2`,
        headers: stranger.headers,
      }),
      404,
      "RESOURCE_NOT_FOUND",
    );
    expectError(
      await ctx.app.inject({
        method: "POST",
        url: `/api/sessions/${created.id}/repeat?times=50`,
        headers: user.headers,
      }),
      422,
      "VALIDATION_ERROR",
    );
  });
});
