// Several engine processes on one database: they share the work without playing a turn twice, and live events
// reach subscribers on any process. On PostgreSQL the workers are real OS processes (MIMIC_ROLE=worker); PGlite
// is an in-process database, so there the workers are two more engine instances on the same database.
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createTestApp, JWT_SECRET, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { startWebhookBot, type WebhookBot } from "../support/bots.js";
import { type MimicProcess, startMimic } from "../support/processes.js";
import { createAgent, createPersona, ENGINE_ENV, startSession, waitForEnd } from "./fixtures.js";

let apiNode: TestContext;
const workers: { close(): Promise<unknown> }[] = [];
let user: TestUser;
let bot: WebhookBot;

beforeAll(async () => {
  bot = await startWebhookBot((m) => ({
    status: 200,
    body: { reply: `ok ${m.content.length}` },
    delayMs: 5,
  }));
  // Process A: API only, no engine. It serves HTTP and WebSockets.
  apiNode = await createTestApp({ ...ENGINE_ENV, MIMIC_JWT_SECRET: JWT_SECRET }, { engine: false });
  await apiNode.app.listen({ host: "127.0.0.1", port: 0 });
  user = await registerUser(apiNode.app);
  const workerEnv = { ...ENGINE_ENV, MIMIC_ROLE: "worker", MIMIC_ENGINE_CONCURRENCY: "8" };
  if (apiNode.db.url) {
    for (let i = 0; i < 2; i++) {
      const proc: MimicProcess = await startMimic({
        ...workerEnv,
        DATABASE_URL: apiNode.db.url,
        MIMIC_JWT_SECRET: JWT_SECRET,
      });
      workers.push({ close: () => proc.stop() });
    }
  } else {
    for (let i = 0; i < 2; i++) {
      const worker = await createTestApp(workerEnv, { engine: true, db: apiNode.db });
      await worker.app.ready();
      workers.push({ close: () => worker.app.close() });
    }
  }
});
afterAll(async () => {
  for (const w of workers) await w.close();
  await apiNode.close();
  await bot.close();
});

describe(
  process.env.DATABASE_URL ? "two worker processes on one PostgreSQL" : "two engines on one PGlite",
  () => {
    it("plays every turn exactly once across workers, and streams a worker's session to a subscriber on the API process", async () => {
      const { port } = apiNode.app.server.address() as AddressInfo;
      const socket = new WebSocket(`ws://127.0.0.1:${port}/api/ws`, {
        headers: { authorization: `Bearer ${user.token}` },
      });
      const events: { type: string; sessionId?: string; data?: { id?: string } }[] = [];
      socket.on("message", (data) => events.push(JSON.parse(data.toString())));
      await new Promise((resolve) => socket.once("open", resolve));

      const persona = await createPersona(apiNode.app, user, { goal: null });
      const agent = await createAgent(apiNode.app, user, { webhook_url: bot.url });
      const config = { maxMessages: 8, messageInterval: 0.05, replyTimeout: 2, duration: 60 };
      const watched = await startSession(apiNode.app, user, {
        agentId: agent.id,
        personaId: persona.id,
        config,
      });
      socket.send(JSON.stringify({ type: "subscribe", sessionId: watched.id }));
      const others = [];
      for (let i = 0; i < 11; i++)
        others.push(
          await startSession(apiNode.app, user, { agentId: agent.id, personaId: persona.id, config }),
        );

      const all = [watched, ...others];
      const finals = [];
      for (const s of all) finals.push(await waitForEnd(apiNode.app, user, s.id, 60_000));
      for (const f of finals) {
        expect(f).toMatchObject({ status: "completed", reason: "message limit reached" });
        expect(f.messages.map((m) => m.senderType)).toEqual(
          Array.from({ length: 8 }, (_, i) => (i % 2 ? "agent" : "persona")),
        );
      }
      // No turn played twice: every persona message reached the bot exactly once.
      const personaIds = finals.flatMap((f) =>
        f.messages.filter((m) => m.senderType === "persona").map((m) => m.id),
      );
      expect(personaIds).toHaveLength(12 * 4);
      expect(bot.received.map((r) => r.messageId).sort()).toEqual([...personaIds].sort());

      // The subscriber on the API process saw the watched session's messages (all written by workers) and its end.
      await expect
        .poll(() => events.some((e) => e.type === "session_end" && e.sessionId === watched.id))
        .toBe(true);
      const live = events
        .filter((e) => e.type === "new_message" && e.sessionId === watched.id)
        .map((e) => e.data?.id);
      const transcript = finals[0]!.messages.map((m) => m.id);
      expect(transcript.slice(transcript.length - live.length)).toEqual(live);
      expect(live.length).toBeGreaterThanOrEqual(7);
      expect(events.some((e) => e.sessionId && e.sessionId !== watched.id)).toBe(false);
      socket.close();
    });
  },
);
