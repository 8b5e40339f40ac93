// Per-session statistics and the analytics endpoints, checked against a small dataset whose figures are worked
// out by hand below. The database runs in a time zone 14 hours ahead of UTC: days must still be UTC days.
import { createDb, sessions } from "@mimic/db";
import { createTestDb } from "@mimic/db/testing";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgent, createPersona } from "../engine/fixtures.js";
import { createTestApp, expectError, registerUser, type TestContext } from "../helpers.js";
import {
  as,
  BOT_URL,
  createOwner,
  getJson,
  insertMessages,
  insertSession,
  type MessageRow,
  newSession,
  type Owner,
  verdict,
} from "./fixtures.js";

const ZONE = "Pacific/Kiritimati"; // UTC+14: a session at 23:59:30Z is already "tomorrow" there.

/** A fresh test database whose sessions default to ZONE (set before the app opens any connection). */
async function zonedTestDb() {
  const db = await createTestDb();
  if (db.url) {
    const admin = createDb({ url: db.url, maxConnections: 1 });
    const name = new URL(db.url).pathname.slice(1);
    await admin.rows(sql.raw(`alter database "${name}" set timezone to '${ZONE}'`));
    await admin.close();
  } else {
    // PGlite has one connection: a session setting holds for every later query.
    await db.rows(sql.raw(`set timezone to '${ZONE}'`));
  }
  return db;
}

let ctx: TestContext;
let u: Owner;
let a2: { id: string };
let p2: { id: string };
const ids: Record<string, string> = {};

const t = (iso: string) => new Date(iso);
const persona = (iso: string): MessageRow => ({
  senderType: "persona",
  content: "customer says",
  timestamp: t(iso),
});
const agent = (iso: string, latencyMs: number | null): MessageRow => ({
  senderType: "agent",
  content: "bot says",
  timestamp: t(iso),
  latencyMs,
});
const system = (iso: string): MessageRow => ({ senderType: "system", content: "note", timestamp: t(iso) });

/*
 * The dataset (user u; agents A1 = u.agent, A2; personas P1 = u.persona, P2). Range 2024-03-01 … 2024-03-07.
 *
 * id   agent pers created (UTC)              start → end                 status     result  counted msgs  latencies
 * S1   A1    P1   03-01 09:00:00             09:00:10 → 09:02:10.250     completed  pass    3p+3a (+1 sys) 1000 2000 3000
 * S2   A1    P1   03-01 23:59:30             — → 03-02 00:00:30          failed     fail    1p (+1 sys)
 * S3   A1    P2   03-03 12:00:00             12:00:05 → 12:05:05         completed  fail    2p+2a          500 4000
 * S4   A2    P2   03-03 18:00:00             18:00:00 → 18:00:45         failed     —       1p+1a          100
 * S11  A1    P2   03-04 10:00:00             10:00:00 → 10:01:00         failed     fail    1p
 * S5   A1    P1   03-05 08:00:00             08:00:00 → (running)        active     —       2p+2a          700, null
 * S6   A2    P1   03-05 10:00:00             —                           pending    —       0
 * S7   A1    P2   03-06 00:00:00             00:00:00 → 00:00:31         failed     —       1p
 * S8   A1    P1   03-07 23:59:59.999         23:59:59.999 → 03-08 00:00:09.999  stopped  —   1p+1a          1500
 * Outside the range: S9 (A1, 02-29 23:59:59, passed, latency 99999), S10 (A1, 03-08 00:00:00, failed, 88888);
 * another user's session on 03-03 with 3 messages.
 * Failure reasons (end reason agent_error): S2, S7 "unreachable: connect timeout"; S11 "bad reply: 500"; S4 (A2)
 * "unreachable: connect timeout". S3 completed on its message limit (message_limit) and did not pass.
 *
 * Durations (ended_at - coalesce(started_at, created_at)): S1 120.25, S2 60, S3 300, S4 45, S11 60, S7 31, S8 10.
 */
beforeAll(async () => {
  ctx = await createTestApp(
    { MIMIC_ALLOW_PRIVATE_TARGETS: "true" },
    { engine: false, db: await zonedTestDb() },
  );
  u = await createOwner(ctx.app);
  a2 = await createAgent(ctx.app, u.user, { webhook_url: BOT_URL });
  p2 = await createPersona(ctx.app, u.user, { name: "Angry customer" });
  const own = (agentId: string, personaId: string) => ({ userId: u.user.id, agentId, personaId });
  const A1 = u.agent.id;
  const P1 = u.persona.id;
  const A2 = a2.id;
  const P2 = p2.id;
  const unreachable = "unreachable: connect timeout";

  ids.S1 = await insertSession(ctx, own(A1, P1), {
    createdAt: t("2024-03-01T09:00:00Z"),
    startedAt: t("2024-03-01T09:00:10Z"),
    endedAt: t("2024-03-01T09:02:10.250Z"),
    status: "completed",
    endReason: "goal_reached",
    reason: "goal reached",
    result: verdict(true),
    promptTokens: 120,
    completionTokens: 45,
  });
  await insertMessages(ctx, ids.S1, [
    persona("2024-03-01T09:00:10Z"),
    agent("2024-03-01T09:00:11Z", 1000),
    persona("2024-03-01T09:00:20Z"),
    agent("2024-03-01T09:00:22Z", 2000),
    system("2024-03-01T09:00:30Z"),
    persona("2024-03-01T09:00:40Z"),
    agent("2024-03-01T09:00:43Z", 3000),
  ]);
  ids.S2 = await insertSession(ctx, own(A1, P1), {
    createdAt: t("2024-03-01T23:59:30Z"),
    endedAt: t("2024-03-02T00:00:30Z"),
    status: "failed",
    endReason: "agent_error",
    reason: unreachable,
    result: verdict(false),
  });
  // Messages after midnight still count on the day the session was created.
  await insertMessages(ctx, ids.S2, [persona("2024-03-02T00:00:01Z"), system("2024-03-02T00:00:30Z")]);
  ids.S3 = await insertSession(ctx, own(A1, P2), {
    createdAt: t("2024-03-03T12:00:00Z"),
    startedAt: t("2024-03-03T12:00:05Z"),
    endedAt: t("2024-03-03T12:05:05Z"),
    status: "completed",
    endReason: "message_limit",
    reason: "message limit reached",
    result: verdict(false),
  });
  await insertMessages(ctx, ids.S3, [
    persona("2024-03-03T12:00:05Z"),
    agent("2024-03-03T12:00:05.500Z", 500),
    persona("2024-03-03T12:01:00Z"),
    agent("2024-03-03T12:01:04Z", 4000),
  ]);
  ids.S4 = await insertSession(ctx, own(A2, P2), {
    createdAt: t("2024-03-03T18:00:00Z"),
    startedAt: t("2024-03-03T18:00:00Z"),
    endedAt: t("2024-03-03T18:00:45Z"),
    status: "failed",
    endReason: "agent_error",
    reason: unreachable,
  });
  await insertMessages(ctx, ids.S4, [
    persona("2024-03-03T18:00:00Z"),
    agent("2024-03-03T18:00:00.100Z", 100),
  ]);
  ids.S11 = await insertSession(ctx, own(A1, P2), {
    createdAt: t("2024-03-04T10:00:00Z"),
    startedAt: t("2024-03-04T10:00:00Z"),
    endedAt: t("2024-03-04T10:01:00Z"),
    status: "failed",
    endReason: "agent_error",
    reason: "bad reply: 500",
    result: verdict(false),
  });
  await insertMessages(ctx, ids.S11, [persona("2024-03-04T10:00:00Z")]);
  ids.S5 = await insertSession(ctx, own(A1, P1), {
    createdAt: t("2024-03-05T08:00:00Z"),
    startedAt: t("2024-03-05T08:00:00Z"),
    status: "active",
  });
  await insertMessages(ctx, ids.S5, [
    persona("2024-03-05T08:00:00Z"),
    agent("2024-03-05T08:00:00.700Z", 700),
    persona("2024-03-05T08:00:10Z"),
    // Recorded with its own timestamp: no latency, so not part of the latency figures (still a message).
    agent("2024-03-05T08:00:11Z", null),
  ]);
  ids.S6 = await insertSession(ctx, own(A2, P1), { createdAt: t("2024-03-05T10:00:00Z") });
  ids.S7 = await insertSession(ctx, own(A1, P2), {
    createdAt: t("2024-03-06T00:00:00Z"),
    startedAt: t("2024-03-06T00:00:00Z"),
    endedAt: t("2024-03-06T00:00:31Z"),
    status: "failed",
    endReason: "agent_error",
    reason: unreachable,
  });
  await insertMessages(ctx, ids.S7, [persona("2024-03-06T00:00:00Z")]);
  ids.S8 = await insertSession(ctx, own(A1, P1), {
    createdAt: t("2024-03-07T23:59:59.999Z"),
    startedAt: t("2024-03-07T23:59:59.999Z"),
    endedAt: t("2024-03-08T00:00:09.999Z"),
    status: "stopped",
    endReason: "stopped",
    reason: "stopped by user",
  });
  await insertMessages(ctx, ids.S8, [
    persona("2024-03-08T00:00:00Z"),
    agent("2024-03-08T00:00:01.500Z", 1500),
  ]);

  // Just outside the range on either side.
  ids.S9 = await insertSession(ctx, own(A1, P1), {
    createdAt: t("2024-02-29T23:59:59Z"),
    startedAt: t("2024-02-29T23:59:59Z"),
    endedAt: t("2024-03-01T00:10:00Z"),
    status: "completed",
    result: verdict(true),
  });
  await insertMessages(ctx, ids.S9, [persona("2024-03-01T00:00:00Z"), agent("2024-03-01T00:01:39Z", 99_999)]);
  ids.S10 = await insertSession(ctx, own(A1, P1), {
    createdAt: t("2024-03-08T00:00:00Z"),
    startedAt: t("2024-03-08T00:00:00Z"),
    endedAt: t("2024-03-08T00:00:01Z"),
    status: "failed",
    endReason: "agent_error",
    reason: "late failure",
  });
  await insertMessages(ctx, ids.S10, [
    persona("2024-03-08T00:00:00Z"),
    agent("2024-03-08T00:01:29Z", 88_888),
  ]);

  // Another user's session inside the range.
  const v = await createOwner(ctx.app);
  ids.V1 = await insertSession(
    ctx,
    { userId: v.user.id, agentId: v.agent.id, personaId: v.persona.id },
    {
      createdAt: t("2024-03-03T09:00:00Z"),
      startedAt: t("2024-03-03T09:00:00Z"),
      endedAt: t("2024-03-03T09:00:05Z"),
      status: "failed",
      endReason: "agent_error",
      reason: "someone else's failure",
      result: verdict(true),
    },
  );
  await insertMessages(ctx, ids.V1, [
    persona("2024-03-03T09:00:00Z"),
    agent("2024-03-03T09:00:01Z", 7),
    persona("2024-03-03T09:00:02Z"),
  ]);
});
afterAll(() => ctx.close());

const RANGE = "startDate=2024-03-01&endDate=2024-03-07";
const get = <T = Record<string, unknown>>(url: string) => getJson<T>(ctx.app, u.user, url);
const day = (date: string, sessions: number, messages: number, avgDuration: number | null) => ({
  date,
  sessions,
  messages,
  avgDuration,
});

it("runs against a database whose time zone is not UTC", async () => {
  const [row] = await ctx.db.rows<{ TimeZone?: string; timezone?: string }>(sql`show timezone`);
  expect(row?.TimeZone ?? row?.timezone).toBe(ZONE);
});

describe("GET /api/sessions/{id}/stats", () => {
  it("counts per sender, reply latency percentiles, duration, usage and verdict", async () => {
    expect(await get(`/api/sessions/${ids.S1}/stats`)).toEqual({
      sessionId: ids.S1,
      status: "completed",
      messageCount: 6, // persona + agent; the system note is not a message of the conversation
      bySender: { persona: 3, agent: 3, system: 1 },
      // Latencies 1000, 2000, 3000 ms. percentile_cont: p50 at rank 0.5 × 2 = 1 → 2000;
      // p95 at rank 0.95 × 2 = 1.9 → 2000 + 0.9 × (3000 − 2000) = 2900. Mean 6000 / 3 = 2000.
      replyLatency: { count: 3, p50: 2000, p95: 2900, max: 3000, mean: 2000 },
      // 09:00:10 → 09:02:10.250 = 120.25 s, to a tenth: 120.3.
      durationSeconds: 120.3,
      usage: { promptTokens: 120, completionTokens: 45 },
      result: { passed: true, checks: [] },
    });
  });

  it("leaves replies without a latency out of the latency figures, and measures a running session to now", async () => {
    const stats = await get<{
      bySender: Record<string, number>;
      replyLatency: Record<string, number | null>;
      durationSeconds: number;
    }>(`/api/sessions/${ids.S5}/stats`);
    expect(stats.bySender).toEqual({ persona: 2, agent: 2, system: 0 });
    expect(stats.replyLatency).toEqual({ count: 1, p50: 700, p95: 700, max: 700, mean: 700 });
    const sinceStart = (Date.now() - Date.parse("2024-03-05T08:00:00Z")) / 1000;
    expect(Math.abs(stats.durationSeconds - sinceStart)).toBeLessThan(60);
  });

  it("measures a session that ended before it started from its creation, like analytics", async () => {
    // S2: created 23:59:30, never started, ended 00:00:30 → 60 s.
    expect(await get(`/api/sessions/${ids.S2}/stats`)).toMatchObject({
      status: "failed",
      messageCount: 1,
      bySender: { persona: 1, agent: 0, system: 1 },
      durationSeconds: 60,
      result: { passed: false, checks: [] },
    });
  });

  it("answers nulls, not zeros, for a session without replies or a start", async () => {
    expect(await get(`/api/sessions/${ids.S6}/stats`)).toMatchObject({
      status: "pending",
      messageCount: 0,
      bySender: { persona: 0, agent: 0, system: 0 },
      replyLatency: { count: 0, p50: null, p95: null, max: null, mean: null },
      durationSeconds: null,
      result: null,
    });
  });

  it("works through the API for a session with posted messages", async () => {
    const s = await newSession(ctx.app, u);
    await as(ctx.app, u.user).post(`/api/sessions/${s.id}/messages/batch`, {
      messages: [
        { senderType: "persona", content: "hi" },
        { senderType: "agent", content: "hello" },
        { senderType: "system", content: "note" },
      ],
    });
    expect(await get(`/api/sessions/${s.id}/stats`)).toMatchObject({
      messageCount: 2,
      bySender: { persona: 1, agent: 1, system: 1 },
      replyLatency: { count: 0 },
    });
    await ctx.db.db.delete(sessions).where(eq(sessions.id, s.id));
  });

  it("answers 404 for another user's session", async () => {
    const stranger = await registerUser(ctx.app);
    expectError(await as(ctx.app, stranger).get(`/api/sessions/${ids.S1}/stats`), 404, "RESOURCE_NOT_FOUND");
  });
});

describe("GET /api/analytics/sessions", () => {
  it("matches the hand-computed figures", async () => {
    expect(await get(`/api/analytics/sessions?${RANGE}`)).toEqual({
      // S1 S2 S3 S4 S11 S5 S6 S7 S8 (not S9, S10, nor the other user's).
      totalSessions: 9,
      activeSessions: 2, // S5 active, S6 pending
      completedSessions: 2, // S1, S3
      failedSessions: 4, // S2, S4, S11, S7 (S8 is stopped)
      // Ended sessions: (120.25 + 60 + 300 + 45 + 60 + 31 + 10) / 7 = 626.25 / 7 = 89.46 → 89.
      averageDuration: 89,
      // Persona + agent: S1 6, S2 1, S3 4, S4 2, S11 1, S5 4, S6 0, S7 1, S8 2 = 21.
      totalMessages: 21,
      // Verdicts: S1 pass, S2 fail, S3 fail, S11 fail → 1 / 4.
      successRate: 0.25,
      dailyStats: [
        day("2024-03-01", 2, 7, 90), // S1 + S2: 6 + 1 messages; (120.25 + 60) / 2 = 90.125
        day("2024-03-02", 0, 0, null),
        day("2024-03-03", 2, 6, 173), // S3 + S4: 4 + 2; (300 + 45) / 2 = 172.5 → 173
        day("2024-03-04", 1, 1, 60), // S11
        day("2024-03-05", 2, 4, null), // S5 + S6: neither has ended
        day("2024-03-06", 1, 1, 31), // S7, created at 00:00:00 exactly
        day("2024-03-07", 1, 2, 10), // S8, created at 23:59:59.999
      ],
    });
  });

  it("filters by agent: successRate is null when no session has a verdict", async () => {
    expect(await get(`/api/analytics/sessions?${RANGE}&agentId=${a2.id}`)).toEqual({
      totalSessions: 2, // S4, S6
      activeSessions: 1,
      completedSessions: 0,
      failedSessions: 1,
      averageDuration: 45,
      totalMessages: 2,
      successRate: null,
      dailyStats: [
        day("2024-03-01", 0, 0, null),
        day("2024-03-02", 0, 0, null),
        day("2024-03-03", 1, 2, 45),
        day("2024-03-04", 0, 0, null),
        day("2024-03-05", 1, 0, null),
        day("2024-03-06", 0, 0, null),
        day("2024-03-07", 0, 0, null),
      ],
    });
  });

  it("filters by persona, and by agent and persona together", async () => {
    // P2: S3, S4, S11, S7. Durations (300 + 45 + 60 + 31) / 4 = 109; messages 4 + 2 + 1 + 1 = 8; verdicts 0 / 2.
    expect(await get(`/api/analytics/sessions?${RANGE}&personaId=${p2.id}`)).toMatchObject({
      totalSessions: 4,
      activeSessions: 0,
      completedSessions: 1,
      failedSessions: 3,
      averageDuration: 109,
      totalMessages: 8,
      successRate: 0,
    });
    // A1 × P1: S1, S2, S5, S8. Durations (120.25 + 60 + 10) / 3 = 63.4 → 63; messages 6 + 1 + 4 + 2 = 13; 1 / 2.
    expect(
      await get(`/api/analytics/sessions?${RANGE}&agentId=${u.agent.id}&personaId=${u.persona.id}`),
    ).toMatchObject({
      totalSessions: 4,
      activeSessions: 1,
      completedSessions: 1,
      failedSessions: 1,
      averageDuration: 63,
      totalMessages: 13,
      successRate: 0.5,
    });
  });

  it("shows nothing of another user's sessions, even with their agent's id", async () => {
    const v = await registerUser(ctx.app);
    const mine = await getJson<{ totalSessions: number }>(ctx.app, v, `/api/analytics/sessions?${RANGE}`);
    expect(mine.totalSessions).toBe(0);
    const theirs = await getJson<{ totalSessions: number; totalMessages: number }>(
      ctx.app,
      v,
      `/api/analytics/sessions?${RANGE}&agentId=${u.agent.id}`,
    );
    expect(theirs).toMatchObject({ totalSessions: 0, totalMessages: 0 });
    // A malformed id matches nothing (zeros), like an unknown one.
    expect((await get(`/api/analytics/sessions?${RANGE}&agentId=not-a-uuid`)).totalSessions).toBe(0);
  });

  it("covers every day of the range, zeros included, and defaults to the last 30 days", async () => {
    const one = await get<{ dailyStats: unknown[] }>(
      "/api/analytics/sessions?startDate=2024-03-02&endDate=2024-03-02",
    );
    expect(one.dailyStats).toEqual([day("2024-03-02", 0, 0, null)]);
    const leap = await get<{ dailyStats: { date: string }[] }>(
      "/api/analytics/sessions?startDate=2024-02-27&endDate=2024-03-02",
    );
    expect(leap.dailyStats.map((d) => d.date)).toEqual([
      "2024-02-27",
      "2024-02-28",
      "2024-02-29",
      "2024-03-01",
      "2024-03-02",
    ]);
    const today = new Date().toISOString().slice(0, 10);
    const thirty = await get<{ dailyStats: { date: string }[] }>("/api/analytics/sessions");
    expect(thirty.dailyStats).toHaveLength(30);
    expect(thirty.dailyStats.at(-1)?.date).toBe(today);
    expect(thirty.dailyStats[0]?.date).toBe(
      new Date(Date.parse(today) - 29 * 86_400_000).toISOString().slice(0, 10),
    );
    const ending = await get<{ dailyStats: { date: string }[]; totalSessions: number }>(
      "/api/analytics/sessions?endDate=2024-03-07",
    );
    expect(ending.dailyStats[0]?.date).toBe("2024-02-07");
    expect(ending.totalSessions).toBe(10); // the 9 in range plus S9 on 02-29
    // A whole leap year is 366 days: allowed.
    expect(
      (
        await get<{ dailyStats: unknown[] }>(
          "/api/analytics/sessions?startDate=2024-01-01&endDate=2024-12-31",
        )
      ).dailyStats,
    ).toHaveLength(366);
  });

  it.each([
    ["startDate=2024-03-08&endDate=2024-03-07", "startDate"], // start after end
    ["startDate=2023-01-01&endDate=2024-01-02", "endDate"], // 367 days
    ["startDate=2024-13-01&endDate=2024-12-31", "startDate"],
    ["startDate=2023-02-29&endDate=2023-03-01", "startDate"], // not a leap year
    ["startDate=03/01/2024", "startDate"],
    ["endDate=2024-03-07T00:00:00Z", "endDate"],
  ])("rejects %s (422 naming %s)", async (query, field) => {
    for (const url of [`/api/analytics/sessions?${query}`, `/api/analytics/agents/${u.agent.id}?${query}`]) {
      const error = expectError(await as(ctx.app, u.user).get(url), 422, "VALIDATION_ERROR");
      expect(error.details?.map((d) => d.field)).toEqual([field]);
    }
  });
});

describe("GET /api/analytics/agents/{id}", () => {
  it("matches the hand-computed figures", async () => {
    expect(await get(`/api/analytics/agents/${u.agent.id}?${RANGE}`)).toEqual({
      agentId: u.agent.id,
      name: "Bot under test",
      type: "webhook",
      startDate: "2024-03-01",
      endDate: "2024-03-07",
      // A1's sessions in range: S1 S2 S3 S11 S5 S7 S8.
      totalSessions: 7,
      activeSessions: 1, // S5
      completedSessions: 2, // S1, S3
      failedSessions: 3, // S2, S11, S7
      stoppedSessions: 1, // S8
      // (120.25 + 60 + 300 + 60 + 31 + 10) / 6 = 581.25 / 6 = 96.875 → 97.
      averageDuration: 97,
      successRate: 0.25, // S1 pass; S2, S3, S11 fail
      // (6 + 1 + 4 + 1 + 4 + 1 + 2) / 7 = 19 / 7 = 2.714 → 2.7.
      messagesPerSession: 2.7,
      // Latencies 500 700 1000 1500 2000 3000 4000 (S9's 99999 and S10's 88888 are outside the range, S4's 100 is
      // A2's, S5's recorded reply has none). p50: rank 0.5 × 6 = 3 → 1500; p95: rank 0.95 × 6 = 5.7 →
      // 3000 + 0.7 × 1000 = 3700.
      replyLatency: { count: 7, p50: 1500, p95: 3700, max: 4000 },
      // Failed sessions only, most frequent first (not alphabetical).
      failureReasons: [
        { endReason: "agent_error", count: 3, reason: "unreachable: connect timeout" },
        { endReason: "message_limit", count: 1, reason: "message limit reached" },
      ],
      dailyStats: [
        day("2024-03-01", 2, 7, 90),
        day("2024-03-02", 0, 0, null),
        day("2024-03-03", 1, 4, 300),
        day("2024-03-04", 1, 1, 60),
        day("2024-03-05", 1, 4, null),
        day("2024-03-06", 1, 1, 31),
        day("2024-03-07", 1, 2, 10),
      ],
    });
  });

  it("answers nulls for a range without sessions", async () => {
    expect(await get(`/api/analytics/agents/${a2.id}?startDate=2024-04-01&endDate=2024-04-02`)).toMatchObject(
      {
        totalSessions: 0,
        averageDuration: null,
        successRate: null,
        messagesPerSession: null,
        replyLatency: { count: 0, p50: null, p95: null, max: null },
        failureReasons: [],
        dailyStats: [day("2024-04-01", 0, 0, null), day("2024-04-02", 0, 0, null)],
      },
    );
  });

  it("answers 404 for another user's agent, an unknown id and a malformed id", async () => {
    const stranger = await registerUser(ctx.app);
    for (const [user, id] of [
      [stranger, u.agent.id],
      [u.user, "00000000-0000-4000-8000-000000000000"],
      [u.user, "test-agent"],
    ] as const) {
      const res = await as(ctx.app, user).get(`/api/analytics/agents/${id}?${RANGE}`);
      expect(expectError(res, 404, "RESOURCE_NOT_FOUND").message).toBe("Agent not found");
      expect(res.body).not.toContain("Bot under test");
    }
  });
});
