import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { quotaQueries } from "../src/lib/quotas.js";
import { createTestApp, expectError, registerUser, type TestContext, type TestUser } from "./helpers.js";

// Small quotas, so each rule shows in a few requests. The engine is off: sessions stay pending (= running).
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp({
    MIMIC_QUOTA_PERSONAS: "3",
    MIMIC_QUOTA_AGENTS: "2",
    MIMIC_QUOTA_ACTIVE_SESSIONS: "25",
    MIMIC_QUOTA_MESSAGES: "10",
  });
});
afterAll(() => ctx.close());

const post = (user: TestUser, url: string, payload?: object) =>
  ctx.app.inject({ method: "POST", url, headers: user.headers, ...(payload ? { payload } : {}) });
const del = (user: TestUser, url: string) => ctx.app.inject({ method: "DELETE", url, headers: user.headers });

async function created(user: TestUser, url: string, payload: object) {
  const res = await post(user, url, payload);
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string };
}
const persona = (user: TestUser, name = "P") => created(user, "/api/personas", { name, prompt: "p" });
const agent = (user: TestUser, name = "A") =>
  created(user, "/api/agents", {
    name,
    type: "webhook",
    config: { webhook_url: "https://bot.example.com/hook" },
  });

/** The quota error: 409 CONFLICT naming the quota (details) and its variable (message). */
function expectQuota(res: Parameters<typeof expectError>[0], quota: string, variable: string) {
  const error = expectError(res, 409, "CONFLICT");
  expect(error.message).toMatch(/^Quota exceeded: at most \d+ /);
  expect(error.message).toContain(variable);
  expect(error.details).toEqual([{ field: `quota.${quota}`, message: expect.stringMatching(/ used/) }]);
  return error;
}

describe("persona and agent quotas", () => {
  it("refuses the persona past MIMIC_QUOTA_PERSONAS, per user, and frees a place when one is deleted", async () => {
    const user = await registerUser(ctx.app);
    const first = await persona(user, "1");
    await persona(user, "2");
    await persona(user, "3");
    const error = expectQuota(
      await post(user, "/api/personas", { name: "4", prompt: "p" }),
      "personas",
      "MIMIC_QUOTA_PERSONAS",
    );
    expect(error.message).toBe(
      "Quota exceeded: at most 3 personas per user (MIMIC_QUOTA_PERSONAS); you have 3. To go on, delete personas you no longer need.",
    );
    // Another user has a quota of their own.
    await persona(await registerUser(ctx.app));
    // A deleted (soft-deleted) persona no longer counts.
    expect((await del(user, `/api/personas/${first.id}`)).statusCode).toBe(204);
    await persona(user, "4");
    expectQuota(
      await post(user, "/api/personas", { name: "5", prompt: "p" }),
      "personas",
      "MIMIC_QUOTA_PERSONAS",
    );
  });

  it("refuses the agent past MIMIC_QUOTA_AGENTS; deleted agents do not count", async () => {
    const user = await registerUser(ctx.app);
    const first = await agent(user, "1");
    await agent(user, "2");
    expectQuota(
      await post(user, "/api/agents", {
        name: "3",
        type: "webhook",
        config: { webhook_url: "https://x.example/h" },
      }),
      "agents",
      "MIMIC_QUOTA_AGENTS",
    );
    expect((await del(user, `/api/agents/${first.id}`)).statusCode).toBe(204);
    await agent(user, "3");
  });
});

describe("the running-session quota", () => {
  it("counts pending and active sessions, a repeat as many as it runs, and frees a place when one stops", async () => {
    const user = await registerUser(ctx.app);
    const [p, a] = await Promise.all([persona(user), agent(user)]);
    const body = { personaId: p.id, agentId: a.id };
    const group = await created(user, "/api/sessions", { ...body, repeat: 20 });
    await created(user, "/api/sessions", { ...body, repeat: 4 });
    // 24 running: 20 more would make 44.
    const error = expectQuota(
      await post(user, "/api/sessions", { ...body, repeat: 20 }),
      "activeSessions",
      "MIMIC_QUOTA_ACTIVE_SESSIONS",
    );
    expect(error.message).toContain("you have 24; this request adds 20");
    expectQuota(
      await post(user, `/api/sessions/${group.id}/repeat?times=2`),
      "activeSessions",
      "MIMIC_QUOTA_ACTIVE_SESSIONS",
    );
    const last = await created(user, "/api/sessions", body);
    expectQuota(await post(user, "/api/sessions", body), "activeSessions", "MIMIC_QUOTA_ACTIVE_SESSIONS");
    // A stopped session is no longer running.
    expect((await del(user, `/api/sessions/${last.id}`)).statusCode).toBe(200);
    await created(user, "/api/sessions", body);
  });
});

describe("the stored-message quota", () => {
  it("refuses messages past MIMIC_QUOTA_MESSAGES, a batch as a whole, and new sessions once it is full", async () => {
    const user = await registerUser(ctx.app);
    const [p, a] = await Promise.all([persona(user), agent(user)]);
    const session = await created(user, "/api/sessions", { personaId: p.id, agentId: a.id });
    const batch = (n: number) => ({
      messages: Array.from({ length: n }, (_, i) => ({
        senderType: i % 2 ? "agent" : "persona",
        content: `m${i}`,
      })),
    });
    expect((await post(user, `/api/sessions/${session.id}/messages/batch`, batch(6))).statusCode).toBe(201);
    // 6 stored: 6 more would make 12, and nothing of the batch is written.
    const error = expectQuota(
      await post(user, `/api/sessions/${session.id}/messages/batch`, batch(6)),
      "messages",
      "MIMIC_QUOTA_MESSAGES",
    );
    expect(error.details?.[0]?.message).toBe("6 of 10 used; this request adds 6");
    expect((await post(user, `/api/sessions/${session.id}/messages/batch`, batch(4))).statusCode).toBe(201);
    expectQuota(
      await post(user, `/api/sessions/${session.id}/messages`, {
        senderType: "persona",
        content: "one more",
      }),
      "messages",
      "MIMIC_QUOTA_MESSAGES",
    );
    expectQuota(
      await post(user, "/api/sessions", { personaId: p.id, agentId: a.id }),
      "messages",
      "MIMIC_QUOTA_MESSAGES",
    );
    const stats = await ctx.app.inject({
      method: "GET",
      url: `/api/sessions/${session.id}/stats`,
      headers: user.headers,
    });
    expect(stats.json().messageCount).toBe(10);
  });
});

describe("quota counting", () => {
  it("reads an index keyed by user_id for every count, never a whole table", async () => {
    const user = await registerUser(ctx.app);
    const plans = await ctx.db.db.transaction(async (tx) => {
      // Tiny test tables would be scanned anyway: forbid that, so only a usable index gives a plan without one.
      await tx.execute(sql`set local enable_seqscan = off`);
      const out: Record<string, string> = {};
      for (const [name, query] of Object.entries(quotaQueries(tx, user.id))) {
        const result = (await tx.execute(sql`explain ${query}`)) as unknown as
          | { rows: Record<string, string>[] }
          | Record<string, string>[];
        const rows = Array.isArray(result) ? result : result.rows;
        out[name] = rows.map((row) => Object.values(row)[0]).join("\n");
      }
      return out;
    });
    expect(plans.personas).toMatch(/Index (Only )?Scan using personas_user_idx/);
    expect(plans.agents).toMatch(/Index (Only )?Scan using agents_user_idx/);
    expect(plans.sessions).toMatch(
      /Index (Only )?Scan using sessions_user_idx|Bitmap Index Scan on sessions_user_idx/,
    );
    for (const plan of Object.values(plans)) expect(plan).not.toMatch(/Seq Scan/);
  });
});

describe("quota settings", () => {
  it("reads the defaults and lets 0 lift a quota", async () => {
    const { loadConfig } = await import("../src/config.js");
    expect(loadConfig({ NODE_ENV: "test" }).quotas).toEqual({
      personas: 1000,
      agents: 200,
      activeSessions: 500,
      messages: 1_000_000,
    });
    const open = await createTestApp({ MIMIC_QUOTA_AGENTS: "0" });
    try {
      const user = await registerUser(open.app);
      for (let i = 0; i < 3; i++) {
        const res = await open.app.inject({
          method: "POST",
          url: "/api/agents",
          headers: user.headers,
          payload: { name: `A${i}`, type: "webhook", config: { webhook_url: "https://bot.example.com/h" } },
        });
        expect(res.statusCode).toBe(201);
      }
    } finally {
      await open.close();
    }
  });

  it("documents the quota error on every operation it guards", async () => {
    const doc = (await ctx.app.inject({ method: "GET", url: "/openapi.json" })).json();
    for (const [path, method] of [
      ["/api/personas", "post"],
      ["/api/agents", "post"],
      ["/api/sessions", "post"],
      ["/api/sessions/{id}/repeat", "post"],
      ["/api/sessions/{id}/messages", "post"],
      ["/api/sessions/{id}/messages/batch", "post"],
    ] as const) {
      expect(doc.paths[path][method].responses["409"].description, path).toMatch(
        /quota is full \(MIMIC_QUOTA_/,
      );
    }
  });
});
