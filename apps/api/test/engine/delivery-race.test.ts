// A bot may answer before the engine has finished delivering its message (a WebSocket frame, or an asynchronous
// webhook reply, arriving in the few milliseconds between the send and the bookkeeping after it). The reply
// must count: the session goes on after messageInterval, not after the whole replyTimeout.
import { sessions } from "@mimic/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  appendMessages,
  claimDue,
  completeDelivery,
  writePersonaMessage,
} from "../../src/engine/session-store.js";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { createAgent, createPersona, startSession } from "./fixtures.js";

let ctx: TestContext;
let user: TestUser;

beforeAll(async () => {
  ctx = await createTestApp({ MIMIC_ALLOW_PRIVATE_TARGETS: "true" }, { engine: false });
  user = await registerUser(ctx.app);
});
afterAll(() => ctx.close());

/** A session claimed by `owner`, its first persona message written (phase `delivering`). */
async function delivering(owner: string) {
  const persona = await createPersona(ctx.app, user, { goal: null, script: ["Hello.", "Still there?"] });
  const agent = await createAgent(ctx.app, user, { url: "ws://127.0.0.1:9/bot" }, "websocket");
  const { id } = await startSession(ctx.app, user, {
    agentId: agent.id,
    personaId: persona.id,
    config: { messageInterval: 1, replyTimeout: 300, duration: 600, maxMessages: 20 },
  });
  const claimed = await claimDue(ctx.db.db, owner, 1, 30_000);
  expect(claimed.map((s) => s.id)).toEqual([id]);
  const message = await writePersonaMessage(ctx.db.db, id, owner, "Hello.", undefined, 30_000);
  expect(message?.content).toBe("Hello.");
  return { id, message: message! };
}

/** Seconds from now until the session's next turn is due, on the database's clock. */
async function dueInSeconds(id: string) {
  const [row] = await ctx.db.db
    .select({ phase: sessions.phase, nextTurnAt: sessions.nextTurnAt, updatedAt: sessions.updatedAt })
    .from(sessions)
    .where(eq(sessions.id, id));
  return { phase: row!.phase, seconds: (row.nextTurnAt!.getTime() - row!.updatedAt.getTime()) / 1000 };
}

describe("a reply that arrives while its message is being delivered", () => {
  it("schedules the next persona message after messageInterval, not replyTimeout", async () => {
    const { id, message } = await delivering("engine-a");
    const appended = await appendMessages(
      ctx.db.db,
      id,
      [{ senderType: "agent", content: "Hi, how can I help?" }],
      {
        requireRunning: true,
        overLimit: "drop",
      },
    );
    expect(appended.created).toBe(1);
    const outcome = await completeDelivery(ctx.db.db, id, "engine-a", message, [], true);
    expect(outcome?.ended).toBe(false);
    const due = await dueInSeconds(id);
    expect(due.phase).toBe("idle");
    expect(due.seconds).toBeGreaterThan(0.5);
    expect(due.seconds).toBeLessThan(2);
  });

  it("still waits for the reply (replyTimeout) when none came during delivery", async () => {
    const { id, message } = await delivering("engine-b");
    await completeDelivery(ctx.db.db, id, "engine-b", message, [], true);
    const due = await dueInSeconds(id);
    expect(due.phase).toBe("awaiting_reply");
    expect(due.seconds).toBeGreaterThan(250);
    // The reply that then arrives moves the session on.
    await appendMessages(ctx.db.db, id, [{ senderType: "agent", content: "Hi!" }], { requireRunning: true });
    const after = await dueInSeconds(id);
    expect(after.phase).toBe("idle");
    expect(after.seconds).toBeLessThan(2);
  });
});
