// A real PostgreSQL server misbehaving under a running Mimic process (src/main.ts as a child process). PostgreSQL
// only: PGlite cannot drop connections. (a) Mimic's connections are terminated again and again while sessions
// run; (b) the server stops for ~5 s and starts again (a cluster of the test's own). The process survives, every
// session finishes with nothing lost or written twice, errors meanwhile are 503s in the envelope, readiness says
// what fails and recovers within seconds, and a live subscriber sees every message once, in order.
import { createDb } from "@mimic/db";
import { createTestDb, type TestDb } from "@mimic/db/testing";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { startWebhookBot, type WebhookBot } from "../support/bots.js";
import { type Cluster, postgresBin, startCluster } from "../support/cluster.js";
import { resumingSubscriber } from "../support/live-client.js";
import { api, type MimicProcess, startMimic, waitFor } from "../support/processes.js";

const onPostgres = !!process.env.DATABASE_URL;
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

const env = (databaseUrl: string) => ({
  DATABASE_URL: databaseUrl,
  MIMIC_JWT_SECRET: "db-faults-test-secret-db-faults-test-0000",
  MIMIC_ALLOW_PRIVATE_TARGETS: "true",
  MIMIC_ENGINE_POLL_MS: "50",
  MIMIC_ENGINE_LEASE_MS: "2000",
  MIMIC_AGENT_TIMEOUT_MS: "5000",
  MIMIC_WS_PING_MS: "500",
});

/** Lines enough for every turn: the scripted persona never runs out of things to say (nor gives up). */
const SCRIPT = Array.from({ length: 30 }, (_, i) => `Question number ${i + 1} about my order.`);

interface Transcript {
  status: string;
  endReason: string | null;
  messages: { id: string; senderType: string; content: string }[];
}

/** A user with a scripted persona and a webhook agent pointing at `bot`, on the Mimic at `url`. */
async function setUp(url: string, bot: WebhookBot) {
  const { access_token: token } = await api(url)<{ access_token: string }>("POST", "/api/auth/register", {
    email: `faults-${crypto.randomUUID()}@example.com`,
    password: "long-enough-password",
  });
  const call = api(url, token);
  const persona = await call<{ id: string }>("POST", "/api/personas", {
    name: "P",
    prompt: "You are a customer with a late order.",
    goal: null,
    seed: 5,
    script: SCRIPT,
  });
  const agent = await call<{ id: string }>("POST", "/api/agents", {
    name: "Echo",
    type: "webhook",
    config: { webhook_url: bot.url },
  });
  const start = (config: object) =>
    call<{ id: string }>("POST", "/api/sessions", { agentId: agent.id, personaId: persona.id, config });
  return { token, call, start };
}

/** GET through an outage: retried until the server answers 2xx. */
async function getWhenUp<T>(call: ReturnType<typeof api>, path: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      return await call<T>("GET", path);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Persona and agent take turns; every persona message is answered once (the echo), ids are unique. */
function expectWhole(transcript: Transcript, messageCount: number, bot: WebhookBot, sessionId: string) {
  const { messages } = transcript;
  expect(transcript).toMatchObject({ status: "completed", endReason: "message_limit" });
  expect(messages.map((m) => m.senderType)).toEqual(
    Array.from({ length: messageCount }, (_, i) => (i % 2 === 0 ? "persona" : "agent")),
  );
  expect(new Set(messages.map((m) => m.id)).size).toBe(messageCount);
  for (let i = 0; i < messages.length; i += 2)
    expect(messages[i + 1]!.content).toBe(`You said: ${messages[i]!.content}`);
  // Every message the bot was sent is stored exactly once (a redelivery keeps its id), and nothing else.
  const personaIds = messages.filter((m) => m.senderType === "persona").map((m) => m.id);
  const delivered = new Set(bot.received.filter((r) => r.sessionId === sessionId).map((r) => r.messageId));
  expect([...delivered].sort()).toEqual([...personaIds].sort());
}

describe.skipIf(!onPostgres)("Mimic's connections terminated under load", () => {
  it("survives: sessions finish with nothing lost or written twice", async () => {
    const db: TestDb = await createTestDb();
    cleanups.push(() => db.close());
    const bot = await startWebhookBot();
    cleanups.push(() => bot.close());
    const mimic: MimicProcess = await startMimic(env(db.url!));
    cleanups.push(() => mimic.stop("SIGKILL"));
    const { call, start } = await setUp(mimic.url, bot);
    const MESSAGES = 40;
    const ids = await Promise.all(
      Array.from({ length: 15 }, async () => {
        const session = await start({
          maxMessages: MESSAGES,
          messageInterval: 0.4,
          replyTimeout: 5,
          duration: 120,
        });
        return session.id;
      }),
    );

    // Another connection to the same database ends every other backend (Mimic's pool and its listener), again
    // and again, while the sessions play.
    const killer = createDb({ url: db.url!, maxConnections: 1 });
    cleanups.push(() => killer.close());
    let rounds = 0;
    let terminated = 0;
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 400 + Math.random() * 400));
      const rows = await killer.rows<{ ok: boolean }>(
        sql`select pg_terminate_backend(pid) as ok from pg_stat_activity
             where datname = current_database() and pid <> pg_backend_pid()`,
      );
      rounds++;
      terminated += rows.filter((row) => row.ok).length;
      expect(mimic.child.exitCode, mimic.output()).toBeNull();
    }
    expect(rounds).toBeGreaterThanOrEqual(10);
    expect(terminated).toBeGreaterThanOrEqual(rounds);

    const finished = async () => {
      const page = await getWhenUp<{ data: { status: string }[] }>(call, "/api/sessions?limit=100");
      return page.data.filter((s) => s.status === "completed" || s.status === "failed").length;
    };
    await expect.poll(finished, { timeout: 40_000, interval: 250 }).toBe(ids.length);
    for (const id of ids)
      expectWhole(await call<Transcript>("GET", `/api/sessions/${id}`), MESSAGES, bot, id);
    expect(mimic.child.exitCode).toBeNull();
    expect(mimic.output()).not.toMatch(/Cannot read properties of null/);
  });
});

describe.skipIf(!onPostgres || !postgresBin())("a database stop and start", () => {
  it("answers 503 while it is down, is ready again within seconds, and the session and its subscriber lose nothing", async () => {
    const cluster: Cluster = await startCluster();
    cleanups.push(() => cluster.destroy());
    const bot = await startWebhookBot();
    cleanups.push(() => bot.close());
    const mimic = await startMimic(env(cluster.url));
    cleanups.push(() => mimic.stop("SIGKILL"));
    const { token, call, start } = await setUp(mimic.url, bot);
    const MESSAGES = 30;
    const session = await start({
      maxMessages: MESSAGES,
      messageInterval: 0.3,
      replyTimeout: 5,
      duration: 120,
    });
    const subscriber = resumingSubscriber(`${mimic.url.replace("http", "ws")}/api/ws`, token, session.id, {
      afterSeq: 0,
    });
    cleanups.push(async () => subscriber.close());
    await waitFor(() => subscriber.messageIds().length >= 4, 15_000);

    await cluster.stop();
    const stoppedAt = Date.now();
    // Errors in the one envelope, and readiness naming what fails.
    const down = await fetch(`${mimic.url}/api/sessions/${session.id}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(down.status).toBe(503);
    const body = (await down.json()) as { error: { code: string; message: string } };
    expect(Object.keys(body)).toEqual(["error"]);
    expect(body.error).toMatchObject({ code: "SERVICE_UNAVAILABLE", message: expect.any(String) });
    await expect
      .poll(
        async () => {
          const res = await fetch(`${mimic.url}/health/ready`);
          return { status: res.status, body: await res.json() };
        },
        { timeout: 5_000, interval: 100 },
      )
      .toMatchObject({
        status: 503,
        body: {
          status: "not_ready",
          checks: { database: "failing", engine: "failing", events: "failing" },
          details: expect.arrayContaining(["database unreachable"]),
        },
      });
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, stoppedAt + 5_000 - Date.now())));
    expect(mimic.child.exitCode, mimic.output()).toBeNull();

    await cluster.start();
    const startedAt = Date.now();
    await expect
      .poll(async () => (await fetch(`${mimic.url}/health/ready`)).status, { timeout: 5_000, interval: 100 })
      .toBe(200);
    const readyAfterMs = Date.now() - startedAt;
    expect(readyAfterMs).toBeLessThan(5_000);

    await waitFor(() => subscriber.ended(), 30_000);
    const final = await call<Transcript>("GET", `/api/sessions/${session.id}`);
    expectWhole(final, MESSAGES, bot, session.id);
    // The stream itself holds every message once, in order — re-read from the tables after the outage, on the
    // same connection (the server kept it open and caught it up).
    expect(subscriber.messageIds()).toEqual(final.messages.map((m) => m.id));
    expect(subscriber.events.filter((e) => e.type === "session_end")).toHaveLength(1);
    expect(subscriber.connections).toBe(1);
    expect(mimic.child.exitCode).toBeNull();
  });
});
