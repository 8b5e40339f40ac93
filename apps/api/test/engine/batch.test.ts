// Group commit: the engine's writes of many turns go in one transaction, and one bad write fails only itself.
import { messages, sessions } from "@mimic/db";
import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Batch } from "../../src/engine/batch.js";
import { claimDue, completeDeliveries, writePersonaMessages } from "../../src/engine/session-store.js";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { createAgent, createPersona, startSession } from "./fixtures.js";

describe("Batch", () => {
  it("runs what arrives while a transaction is in flight together, in the next one", async () => {
    const calls: number[][] = [];
    const batch = new Batch<number, number>(async (inputs) => {
      calls.push(inputs);
      await new Promise((resolve) => setTimeout(resolve, 20));
      return inputs.map((n) => n * 2);
    });
    const first = await Promise.all([1, 2, 3].map((n) => batch.submit(n)));
    expect(first).toEqual([2, 4, 6]);
    const later = [batch.submit(4)];
    await new Promise((resolve) => setTimeout(resolve, 5)); // 4 is in flight alone
    later.push(batch.submit(5), batch.submit(6));
    expect(await Promise.all(later)).toEqual([8, 10, 12]);
    expect(calls).toEqual([[1, 2, 3], [4], [5, 6]]);
  });

  it("when a batch fails, runs each input alone: only the bad one fails", async () => {
    const batch = new Batch<number, number>(async (inputs) => {
      if (inputs.includes(13)) throw new Error("13 is refused");
      return inputs;
    });
    const results = await Promise.allSettled([1, 13, 2].map((n) => batch.submit(n)));
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe("13 is refused");
  });

  it("caps how many inputs one transaction carries", async () => {
    const sizes: number[] = [];
    const batch = new Batch<number, number>(async (inputs) => {
      sizes.push(inputs.length);
      return inputs;
    }, 4);
    await Promise.all(Array.from({ length: 10 }, (_, i) => batch.submit(i)));
    expect(sizes).toEqual([4, 4, 2]);
  });
});

describe("batched turn writes", () => {
  let ctx: TestContext;
  let user: TestUser;
  beforeAll(async () => {
    ctx = await createTestApp({ MIMIC_ALLOW_PRIVATE_TARGETS: "true" }, { engine: false });
    user = await registerUser(ctx.app);
  });
  afterAll(() => ctx.close());

  it("writes the turns of many sessions in one go, and nothing for a session the worker does not hold", async () => {
    const persona = await createPersona(ctx.app, user, { goal: null, script: ["Hello."] });
    const agent = await createAgent(ctx.app, user, { webhook_url: "http://127.0.0.1:9/hook" });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const session = await startSession(ctx.app, user, {
        agentId: agent.id,
        personaId: persona.id,
        config: { messageInterval: 1, maxMessages: 2 },
      });
      ids.push(session.id);
    }
    const claimed = await claimDue(ctx.db.db, "worker-a", 10, 30_000);
    expect(claimed.map((s) => s.id).sort()).toEqual([...ids].sort());
    // The third session is taken over by another worker before the first one writes.
    await ctx.db.db.update(sessions).set({ leaseOwner: "worker-b" }).where(eq(sessions.id, ids[2]!));

    const written = await writePersonaMessages(
      ctx.db.db,
      "worker-a",
      ids.map((sessionId, i) => ({ sessionId, content: `Hello from ${i}.` })),
      30_000,
    );
    expect(written.map((m) => m?.content)).toEqual(["Hello from 0.", "Hello from 1.", undefined]);
    const stored = await ctx.db.db.select().from(messages).where(inArray(messages.sessionId, ids));
    expect(stored.map((m) => m.content).sort()).toEqual(["Hello from 0.", "Hello from 1."]);

    // The first session's bot answers; the second's reply brings it to its message limit (2).
    const outcomes = await completeDeliveries(ctx.db.db, "worker-a", [
      { sessionId: ids[0]!, delivered: written[0]!, replies: [], open: true },
      { sessionId: ids[1]!, delivered: written[1]!, replies: ["Hi, how can I help?"], open: false },
      { sessionId: ids[2]!, delivered: written[0]!, replies: ["Not mine."], open: false },
    ]);
    expect(outcomes.map((o) => o?.ended)).toEqual([false, true, undefined]);
    expect(outcomes[1]?.session.endReason).toBe("message_limit");
    const rows = await ctx.db.db.select().from(sessions).where(inArray(sessions.id, ids));
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(ids[0]!)?.phase).toBe("awaiting_reply");
    expect(byId.get(ids[0]!)?.leaseOwner).toBeNull();
    expect(byId.get(ids[1]!)?.status).not.toBe("active");
    expect(byId.get(ids[2]!)?.leaseOwner).toBe("worker-b");
    const notMine = await ctx.db.db.select().from(messages).where(eq(messages.sessionId, ids[2]!));
    expect(notMine).toEqual([]);
  });
});
