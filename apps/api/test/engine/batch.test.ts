// Group commit: the engine's writes of many turns go in one transaction, and one bad write fails only itself.
import { messages, sessions } from "@mimic/db";
import { asc, eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Batch } from "../../src/engine/batch.js";
import type { SessionEvent } from "../../src/engine/events.js";
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

  /** A session the test plays by hand (no engine runs), with the live events it announces. */
  async function watchedSession(script: string[]) {
    const persona = await createPersona(ctx.app, user, { goal: null, script });
    const agent = await createAgent(ctx.app, user, { webhook_url: "http://127.0.0.1:9/hook" });
    const session = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { messageInterval: 0, maxMessages: 20 },
    });
    const events: SessionEvent[] = [];
    const off = ctx.app.events.subscribe(session.id, (event) => events.push(event));
    return { session, events, off };
  }

  it("counts and numbers what a turn writes in the session's own update: counts, event seqs, message rows agree", async () => {
    const { session, events, off } = await watchedSession(["One.", "Two."]);
    try {
      const turn = async (content: string, replies: string[]) => {
        await ctx.db.db
          .update(sessions)
          .set({ nextTurnAt: new Date(0) })
          .where(eq(sessions.id, session.id));
        const claimed = await claimDue(ctx.db.db, "worker-a", 10, 30_000);
        expect(claimed.map((s) => s.id)).toContain(session.id);
        const [written] = await writePersonaMessages(
          ctx.db.db,
          "worker-a",
          [{ sessionId: session.id, content }],
          30_000,
        );
        await completeDeliveries(ctx.db.db, "worker-a", [
          { sessionId: session.id, delivered: written!, replies, open: false },
        ]);
      };
      await turn("One.", ["First answer."]);
      // A bot's NUL cannot be stored: it arrives as U+FFFD rather than failing the turn.
      await turn("Two.", ["Second\u0000answer.", "And a third."]);
      // A reply recorded through the API meanwhile (its own path, counted by the trigger).
      const posted = await ctx.app.inject({
        method: "POST",
        url: `/api/sessions/${session.id}/messages`,
        headers: { authorization: `Bearer ${user.token}` },
        payload: { senderType: "agent", content: "Posted." },
      });
      expect(posted.statusCode, posted.body).toBe(201);

      const rows = await ctx.db.db
        .select()
        .from(messages)
        .where(eq(messages.sessionId, session.id))
        .orderBy(asc(messages.seq));
      expect(rows.map((m) => m.content)).toEqual([
        "One.",
        "First answer.",
        "Two.",
        "Second\ufffdanswer.",
        "And a third.",
        "Posted.",
      ]);
      const [row] = await ctx.db.db.select().from(sessions).where(eq(sessions.id, session.id));
      expect(row?.messageCount).toBe(6);
      expect(row?.lastMessageAt?.getTime()).toBe(Math.max(...rows.map((m) => m.timestamp.getTime())));

      await expect.poll(() => events.filter((e) => e.type === "new_message").length).toBe(6);
      await expect.poll(() => events.at(-1)?.seq).toBe(row?.eventSeq);
      // Every event numbered once, one more each time; each message row holds its new_message event's seq.
      const seqs = events.map((e) => e.seq!);
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
      const announced = new Map(
        events.flatMap((e) => (e.type === "new_message" ? [[e.data.id, e.seq] as const] : [])),
      );
      expect(rows.map((m) => m.eventSeq)).toEqual(rows.map((m) => announced.get(m.id)));
      const updates = events.filter((e) => e.type === "session_update");
      expect(updates.at(-1)?.data).toMatchObject({ messageCount: 6 });
    } finally {
      off();
    }
  });

  it("numbers a replayed write right: the persona message of a turn that exists already is not announced again", async () => {
    const { session, events, off } = await watchedSession(["Again."]);
    try {
      await ctx.db.db
        .update(sessions)
        .set({ nextTurnAt: new Date(0) })
        .where(eq(sessions.id, session.id));
      await claimDue(ctx.db.db, "worker-a", 10, 30_000);
      const [first] = await writePersonaMessages(
        ctx.db.db,
        "worker-a",
        [{ sessionId: session.id, content: "Again." }],
        30_000,
      );
      // The turn counter goes back, as if the turn's write were replayed: the same message id comes up again.
      await ctx.db.db.update(sessions).set({ turn: 0 }).where(eq(sessions.id, session.id));
      const [second] = await writePersonaMessages(
        ctx.db.db,
        "worker-a",
        [{ sessionId: session.id, content: "Again." }],
        30_000,
      );
      expect(second?.id).toBe(first?.id);
      const [row] = await ctx.db.db.select().from(sessions).where(eq(sessions.id, session.id));
      expect(row?.messageCount).toBe(1);
      await expect.poll(() => events.at(-1)?.seq).toBe(row?.eventSeq);
      expect(events.filter((e) => e.type === "new_message")).toHaveLength(1);
      const seqs = events.map((e) => e.seq!);
      expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    } finally {
      off();
    }
  });
});
