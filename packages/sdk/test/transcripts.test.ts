// The transcript, verdict and analytics routes through the SDK, against a real API (engine off: sessions stay
// pending, so the figures are exactly what the test wrote).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConflictError, NotFoundError, ValidationError } from "../src/index.js";
import { type SignedUp, signUp, startApi, type TestApi } from "./helpers/api.js";

let api: TestApi;
let me: SignedUp;
let sessionId: string;
let agentId: string;

beforeAll(async () => {
  api = await startApi({ MIMIC_ALLOW_PRIVATE_TARGETS: "true" });
  me = await signUp(api.baseUrl);
  const persona = await me.client.personas.create({
    name: "Ivy",
    prompt: "A customer whose parcel is late.",
  });
  const agent = await me.client.agents.create({
    name: "Bot",
    type: "webhook",
    config: { webhook_url: "https://bot.example.com/hook" },
  });
  agentId = agent.id;
  const session = await me.client.sessions.create({
    agentId,
    personaId: persona.id,
    checks: [{ type: "must_match", pattern: "delivery date" }],
    metadata: { build: "ci-1" },
  });
  sessionId = session.id;
});
afterAll(() => api.close());

describe("transcripts through the SDK", () => {
  it("appends messages one by one and in atomic batches, idempotently, and pages through them", async () => {
    const one = await me.client.sessions.messages.create(sessionId, {
      id: "0b8d2b6e-5b2a-4f0e-9d3c-1f2e3d4c5b6a",
      senderType: "persona",
      content: "Where is my parcel? I need a refund or a delivery date.",
    });
    expect(one).toMatchObject({ sessionId, senderType: "persona" });
    const again = await me.client.sessions.messages.create(sessionId, {
      id: one.id,
      senderType: "persona",
      content: one.content,
    });
    expect(again.id).toBe(one.id);

    const batch = await me.client.sessions.messages.createBatch(sessionId, {
      messages: Array.from({ length: 24 }, (_, i) => ({
        senderType: i % 2 ? ("persona" as const) : ("agent" as const),
        content: i === 0 ? "Your new delivery date is Thursday." : `Line ${i}`,
      })),
    });
    expect(batch.created).toBe(24);
    await expect(
      me.client.sessions.messages.createBatch(sessionId, {
        messages: [
          { senderType: "agent", content: "ok" },
          { senderType: "agent", content: "" },
        ],
      }),
    ).rejects.toMatchObject({
      status: 422,
      details: [expect.objectContaining({ field: "messages[1].content" })],
    });
    await expect(
      me.client.sessions.messages.create(sessionId, { senderType: "robot" as never, content: "x" }),
    ).rejects.toBeInstanceOf(ValidationError);

    const seen: string[] = [];
    for await (const message of me.client.sessions.messages.list(sessionId, { limit: 10 }))
      seen.push(message.content);
    expect(seen).toHaveLength(25);
    expect(seen[0]).toMatch(/^Where is my parcel/);
    expect(seen[1]).toBe("Your new delivery date is Thursday.");
  });

  it("searches, exports, measures and patches metadata", async () => {
    const hits = await me.client.sessions.search(sessionId, { q: "delivery date" });
    expect(hits.count).toBe(2);
    expect(hits.results[0]!.highlight).toContain("<mark>");
    const everywhere = await me.client.search.messages({ q: "refund", agentId });
    expect(everywhere.results.map((h) => h.sessionId)).toEqual([sessionId]);

    const markdown = await me.client.sessions.export(sessionId, { format: "markdown" });
    expect(markdown).toMatch(/^# Ivy × Bot\n/);
    expect(markdown.match(/^### \d+\. /gm)).toHaveLength(25);
    const json = JSON.parse(await me.client.sessions.export(sessionId, { format: "json" }));
    expect(json.messages).toHaveLength(25);

    const stats = await me.client.sessions.stats(sessionId);
    expect(stats).toMatchObject({ messageCount: 25, bySender: { persona: 13, agent: 12, system: 0 } });

    const patched = await me.client.sessions.update(sessionId, { metadata: { build: null, branch: "main" } });
    expect(patched.metadata).toMatchObject({ branch: "main", messageCount: 25 });
    expect(patched.metadata).not.toHaveProperty("build");
  });

  it("reports analytics, and hides other users' data behind NotFoundError", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const figures = await me.client.analytics.sessions({ startDate: today, endDate: today });
    expect(figures).toMatchObject({
      totalSessions: 1,
      activeSessions: 1,
      totalMessages: 25,
      successRate: null,
    });
    expect(figures.dailyStats).toEqual([{ date: today, sessions: 1, messages: 25, avgDuration: null }]);
    const agent = await me.client.analytics.agent(agentId);
    expect(agent).toMatchObject({ agentId, totalSessions: 1, messagesPerSession: 25 });
    await expect(
      me.client.analytics.sessions({ startDate: today, endDate: "2000-01-01" }),
    ).rejects.toBeInstanceOf(ValidationError);

    const stranger = await signUp(api.baseUrl);
    await expect(stranger.client.sessions.stats(sessionId)).rejects.toBeInstanceOf(NotFoundError);
    await expect(stranger.client.analytics.agent(agentId)).rejects.toBeInstanceOf(NotFoundError);
    expect((await stranger.client.search.messages({ q: "refund" })).count).toBe(0);
  });

  it("starts repeat groups and reads them back", async () => {
    // `times` is the number of runs in total, like `repeat` on create.
    const group = await me.client.sessions.repeat(sessionId, { times: 2 });
    expect(group).toMatchObject({ total: 2, finished: 0, passRate: null });
    expect(await me.client.sessionGroups.get(group.id)).toMatchObject({ id: group.id, total: 2 });
    // A message id used in one session cannot be reused in another run of the group.
    await expect(
      me.client.sessions.messages.create(group.runs[1]!.sessionId, {
        id: "0b8d2b6e-5b2a-4f0e-9d3c-1f2e3d4c5b6a",
        senderType: "agent",
        content: "x",
      }),
    ).rejects.toBeInstanceOf(ConflictError);
  });
});
