// Restart safety: the process playing a session is killed with SIGKILL in the middle of a delivery; another
// process finishes the session. The transcript has no duplicate and no gap.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDb, type TestDb } from "@mimic/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebhookBot, type WebhookBot } from "../support/bots.js";
import { api, type MimicProcess, startMimic, waitFor } from "../support/processes.js";

let dataDir: string;
let pgDb: TestDb | undefined;
let bot: WebhookBot;
let holdFrom = Number.POSITIVE_INFINITY;
const procs: MimicProcess[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "mimic-crash-"));
  if (process.env.DATABASE_URL) pgDb = await createTestDb();
  // The bot answers at once, except persona message number `holdFrom`, which it never answers: the process
  // dies while that delivery is in flight.
  bot = await startWebhookBot((m) => {
    const n = new Set(bot.received.map((r) => r.messageId)).size;
    const first = bot.received.findIndex((r) => r.messageId === m.messageId) === bot.received.length - 1;
    if (n === holdFrom && first) return { status: 200, body: { reply: "late" }, delayMs: 60_000 };
    return { status: 200, body: { reply: `Answer ${n}` } };
  });
});
afterAll(async () => {
  for (const p of procs) await p.stop("SIGKILL");
  await bot.close();
  await pgDb?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const env = () => ({
  ...(pgDb?.url ? { DATABASE_URL: pgDb.url } : { MIMIC_DATA_DIR: dataDir }),
  MIMIC_JWT_SECRET: "crash-test-secret-crash-test-secret-0000",
  MIMIC_ALLOW_PRIVATE_TARGETS: "true",
  MIMIC_ENGINE_POLL_MS: "50",
  MIMIC_ENGINE_LEASE_MS: "1500",
  MIMIC_AGENT_TIMEOUT_MS: "30000",
});

describe("a crash mid-session", () => {
  it("is recovered by another process: the session finishes, nothing is lost or written twice", async () => {
    const first = await startMimic(env());
    procs.push(first);
    const anon = api(first.url);
    const { access_token: token } = await anon<{ access_token: string }>("POST", "/api/auth/register", {
      email: "crash@example.com",
      password: "long-enough-password",
    });
    const call = api(first.url, token);
    const persona = await call<{ id: string }>("POST", "/api/personas", {
      name: "P",
      prompt: "You are a customer with a late order.",
      seed: 3,
      // Scripted lines: the echo bot would otherwise make the persona give up before the limit.
      script: ["Hi.", "My order is late.", "It's order #12345.", "Can you check it?", "Any news?"],
    });
    const agent = await call<{ id: string }>("POST", "/api/agents", {
      name: "B",
      type: "webhook",
      config: { webhook_url: bot.url },
    });
    holdFrom = 3;
    const session = await call<{ id: string }>("POST", "/api/sessions", {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 10, messageInterval: 0.1, replyTimeout: 5, duration: 120 },
    });

    // Kill the process while the third persona message is being delivered.
    await waitFor(() => new Set(bot.received.map((r) => r.messageId)).size >= 3, 30_000);
    first.child.kill("SIGKILL");
    await first.exited;
    holdFrom = Number.POSITIVE_INFINITY;

    const second = await startMimic(env());
    procs.push(second);
    const call2 = api(second.url, token);
    let final:
      | { status: string; reason: string; messages: { id: string; senderType: string; content: string }[] }
      | undefined;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      final = await call2("GET", `/api/sessions/${session.id}`);
      if (final?.status !== "pending" && final?.status !== "active") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await second.stop();

    expect(final).toMatchObject({ status: "completed", reason: "message limit reached" });
    const transcript = final!.messages;
    expect(transcript.map((m) => m.senderType)).toEqual([
      "persona",
      "agent",
      "persona",
      "agent",
      "persona",
      "agent",
      "persona",
      "agent",
      "persona",
      "agent",
    ]);
    expect(new Set(transcript.map((m) => m.id)).size).toBe(10);
    // The message in flight at the crash was delivered again (same messageId, so the bot can de-duplicate);
    // every other persona message exactly once, and no persona message the transcript does not hold.
    const personaIds = transcript.filter((m) => m.senderType === "persona").map((m) => m.id);
    expect([...new Set(bot.received.map((r) => r.messageId))]).toEqual(personaIds);
    const deliveries = bot.received.map((r) => r.messageId);
    expect(deliveries.filter((id) => id === personaIds[2])).toHaveLength(2);
    expect(deliveries).toHaveLength(personaIds.length + 1);
  });
});
