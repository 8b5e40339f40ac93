import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, expectError, registerUser, type TestContext } from "./helpers.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp({
    MIMIC_RATE_LIMIT_ANON: "3",
    MIMIC_RATE_LIMIT_USER: "5",
    MIMIC_RATE_LIMIT_LOGIN: "4",
    MIMIC_RATE_LIMIT_AGENT: "6",
    MIMIC_RATE_LIMIT_WINDOW: "3600",
  });
});
afterAll(() => ctx.close());

const fromIp = (remoteAddress: string) => ({ remoteAddress });

describe("rate limits", () => {
  it("counts anonymous requests per IP, with the seed's headers, then answers 429 in the envelope", async () => {
    const before = Math.floor(Date.now() / 1000);
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await ctx.app.inject({ method: "GET", url: "/api/personas", ...fromIp("203.0.113.1") });
      expect(res.statusCode).toBe(401);
      expect(res.headers["x-ratelimit-limit"]).toBe("3");
      remaining.push(String(res.headers["x-ratelimit-remaining"]));
      const reset = Number(res.headers["x-ratelimit-reset"]);
      // A Unix timestamp one window (an hour) after the first request.
      expect(reset).toBeGreaterThanOrEqual(before + 3599);
      expect(reset).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 3601);
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const limited = await ctx.app.inject({ method: "GET", url: "/api/personas", ...fromIp("203.0.113.1") });
    expect(expectError(limited, 429, "RATE_LIMIT_EXCEEDED").message).toMatch(/Rate limit exceeded/);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(3500);
    expect(limited.headers["x-ratelimit-remaining"]).toBe("0");
    // Another IP has its own budget.
    const other = await ctx.app.inject({ method: "GET", url: "/api/personas", ...fromIp("203.0.113.2") });
    expect(other.statusCode).toBe(401);
    expect(other.headers["x-ratelimit-remaining"]).toBe("2");
  });

  it("gives each authenticated user their own budget, whatever their IP", async () => {
    const user = await registerUser(ctx.app);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await ctx.app.inject({
        method: "GET",
        url: "/api/personas",
        headers: user.headers,
        ...fromIp(`198.51.100.${i}`),
      });
      statuses.push(res.statusCode);
      if (res.statusCode === 200) expect(res.headers["x-ratelimit-limit"]).toBe("5");
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const someoneElse = await registerUser(ctx.app);
    const res = await ctx.app.inject({ method: "GET", url: "/api/personas", headers: someoneElse.headers });
    expect(res.statusCode).toBe(200);
  });

  it("limits login attempts more strictly, per IP", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await ctx.app.inject({
        method: "POST",
        url: "/api/auth/login",
        payload: { email: "victim@example.com", password: `guess-${i}` },
        ...fromIp("192.0.2.77"),
      });
      statuses.push(res.statusCode);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
  });

  it("gives a bot replying with its agent key a budget per agent, apart from anonymous traffic", async () => {
    const owner = await registerUser(ctx.app);
    const create = async (url: string, payload: object) => {
      const res = await ctx.app.inject({ method: "POST", url, headers: owner.headers, payload });
      expect(res.statusCode, res.body).toBe(201);
      return res.json().id as string;
    };
    const personaId = await create("/api/personas", { name: "P", prompt: "p" });
    const agentId = await create("/api/agents", {
      name: "Async bot",
      type: "webhook",
      config: { webhook_url: "https://bot.example.com/hook", api_key: "agent-key-for-rate-limits" },
    });
    const sessionId = await create("/api/sessions", { agentId, personaId, config: { maxMessages: 100 } });
    const reply = (token: string) =>
      ctx.app.inject({
        method: "POST",
        url: `/api/sessions/${sessionId}/messages`,
        headers: { authorization: `Bearer ${token}` },
        payload: { senderType: "agent", content: "On it." },
        ...fromIp("203.0.113.50"),
      });
    // Twice the anonymous budget of 3, from one IP: the agent's own budget of 6 applies.
    for (let i = 0; i < 6; i++) {
      const res = await reply("agent-key-for-rate-limits");
      expect(res.statusCode, res.body).toBe(201);
      expect(res.headers["x-ratelimit-limit"]).toBe("6");
    }
    expectError(await reply("agent-key-for-rate-limits"), 429, "RATE_LIMIT_EXCEEDED");
    // That IP's anonymous budget is untouched; a key that opens no session is anonymous traffic.
    const wrong = await reply("not-the-agent-key");
    expectError(wrong, 401, "AUTHENTICATION_ERROR");
    expect(wrong.headers["x-ratelimit-limit"]).toBe("3");
    expect(wrong.headers["x-ratelimit-remaining"]).toBe("2");
  });

  it("never limits health probes", async () => {
    for (let i = 0; i < 6; i++) {
      const res = await ctx.app.inject({ method: "GET", url: "/health", ...fromIp("192.0.2.99") });
      expect(res.statusCode).toBe(200);
    }
  });
});
