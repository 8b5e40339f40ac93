// One user's slow bots must not stall everyone: a tarpit bot (answers a byte at a time, never finishing) holds
// one user's sessions, while another user's session keeps its interval. MIMIC_ENGINE_USER_CONCURRENCY caps how
// many turns of one user are played at once; the rest of the engine stays free for others.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { startWebhookBot, type WebhookBot } from "../support/bots.js";
import { createAgent, createPersona, getSession, startSession, waitForEnd } from "./fixtures.js";

let ctx: TestContext;
let slowUser: TestUser;
let otherUser: TestUser;
let tarpit: http.Server;
let tarpitUrl: string;
let tarpitHits = 0;
let quick: WebhookBot;

beforeAll(async () => {
  // Accepts the request, sends headers, then dribbles a byte every 500 ms and never ends the body.
  tarpit = http.createServer((req, res) => {
    tarpitHits++;
    req.resume();
    res.writeHead(200, { "content-type": "application/json" });
    const drip = setInterval(() => res.write(" "), 500);
    res.on("close", () => clearInterval(drip));
  });
  await new Promise<void>((resolve) => tarpit.listen(0, "127.0.0.1", resolve));
  tarpitUrl = `http://127.0.0.1:${(tarpit.address() as AddressInfo).port}/hook`;
  quick = await startWebhookBot((m) => ({ status: 200, body: { reply: `Noted: ${m.content}` } }));
  ctx = await createTestApp(
    {
      MIMIC_ALLOW_PRIVATE_TARGETS: "true",
      MIMIC_ENGINE_POLL_MS: "20",
      MIMIC_ENGINE_CONCURRENCY: "6",
      MIMIC_ENGINE_USER_CONCURRENCY: "3",
      MIMIC_AGENT_TIMEOUT_MS: "15000",
      MIMIC_AGENT_MAX_ATTEMPTS: "1",
    },
    { engine: true },
  );
  slowUser = await registerUser(ctx.app);
  otherUser = await registerUser(ctx.app);
});
afterAll(async () => {
  await ctx.close();
  await quick.close();
  tarpit.closeAllConnections();
  await new Promise((resolve) => tarpit.close(resolve));
});

describe("sharing the engine between users", () => {
  it("keeps another user's interval while one user's bots are tarpits", async () => {
    const slowPersona = await createPersona(ctx.app, slowUser, { goal: null });
    const slowAgent = await createAgent(ctx.app, slowUser, { webhook_url: tarpitUrl });
    await startSession(ctx.app, slowUser, {
      agentId: slowAgent.id,
      personaId: slowPersona.id,
      repeat: 12,
      config: { messageInterval: 0, duration: 120 },
    });
    // The slow user's turns fill its share of the engine, no more.
    await expect.poll(() => tarpitHits, { timeout: 10_000 }).toBe(3);

    const script = Array.from({ length: 6 }, (_, i) => `Question ${i + 1}: where is my parcel?`);
    const persona = await createPersona(ctx.app, otherUser, { goal: null, script });
    const agent = await createAgent(ctx.app, otherUser, { webhook_url: quick.url });
    const created = await startSession(ctx.app, otherUser, {
      agentId: agent.id,
      personaId: persona.id,
      config: { messageInterval: 0.5, maxMessages: 12, duration: 60 },
    });
    const done = await waitForEnd(ctx.app, otherUser, created.id, 30_000);
    expect(done).toMatchObject({ status: "completed", reason: "message limit reached" });
    const personaTimes = done.messages
      .filter((m) => m.senderType === "persona")
      .map((m) => Date.parse(m.timestamp));
    expect(personaTimes).toHaveLength(6);
    const gaps = personaTimes.slice(1).map((t, i) => t - personaTimes[i]!);
    // Interval 0.5 s: each gap stays near it (generous for a loaded machine), far from the tarpit's 15 s.
    for (const gap of gaps) expect(gap).toBeLessThan(2_500);
    // Still only three of the slow user's turns in flight: the cap held for the whole run.
    expect(tarpitHits).toBe(3);
    const slowSessions = (
      await ctx.app.inject({ method: "GET", url: "/api/sessions?limit=100", headers: slowUser.headers })
    ).json().data as { id: string }[];
    const states = await Promise.all(slowSessions.map((s) => getSession(ctx.app, slowUser, s.id)));
    expect(states.filter((s) => s.status === "active" || s.status === "pending")).toHaveLength(12);
  });
});
