// Resumable live events: every session event carries the session's seq; {afterSeq} on subscribe replays what a
// subscriber missed; a jump in seq (a lost notification) is read back from the tables. PGlite and PostgreSQL.
import type { AddressInfo } from "node:net";
import { messages, sessions } from "@mimic/db";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { startWebhookBot, type WebhookBot } from "../support/bots.js";
import { type LiveEvent, resumingSubscriber } from "../support/live-client.js";
import { createAgent, createPersona, ENGINE_ENV, getSession, startSession, waitForEnd } from "./fixtures.js";

let ctx: TestContext;
let owner: TestUser;
let wsUrl: string;
let bot: WebhookBot;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  ctx = await createTestApp(ENGINE_ENV, { engine: true });
  await ctx.app.listen({ host: "127.0.0.1", port: 0 });
  wsUrl = `ws://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}/api/ws`;
  owner = await registerUser(ctx.app);
  bot = await startWebhookBot((m) => ({ status: 200, body: { reply: `Re: ${m.content.slice(0, 20)}` } }));
});
afterAll(async () => {
  for (const s of sockets) s.terminate();
  await ctx.close();
  await bot.close();
});

/** A raw subscriber on one socket: sends what it is given, keeps what it receives. */
async function connect(token: string) {
  const socket = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${token}` } });
  sockets.push(socket);
  const events: LiveEvent[] = [];
  socket.on("message", (data) => events.push(JSON.parse(data.toString())));
  await new Promise<void>((resolve, reject) => socket.once("open", resolve).once("error", reject));
  return { socket, events, send: (msg: object) => socket.send(JSON.stringify(msg)) };
}

async function session(config: object, agentUrl = bot.url) {
  const persona = await createPersona(ctx.app, owner, { goal: null });
  const agent = await createAgent(ctx.app, owner, { webhook_url: agentUrl });
  return startSession(ctx.app, owner, { agentId: agent.id, personaId: persona.id, config });
}

/** A running session whose first turn is done and whose next one is an hour away: only the test writes to it. */
async function idleSession() {
  const s = await session({ maxMessages: 1000, messageInterval: 3600, duration: 7200, replyTimeout: 60 });
  await expect
    .poll(async () => (await ctx.db.db.select().from(sessions).where(eq(sessions.id, s.id)))[0], {
      timeout: 10_000,
    })
    .toMatchObject({ turn: 1, phase: "idle", leaseOwner: null });
  return s;
}

const dataEvents = (events: LiveEvent[]) =>
  events.filter((e) => ["session_update", "new_message", "session_end"].includes(e.type));

describe("event seqs", () => {
  let recorded: LiveEvent[];
  let sessionId: string;

  it("number every event of a session, one more each time, from the snapshot to session_end", async () => {
    const s = await session({ maxMessages: 8, messageInterval: 0.1, replyTimeout: 2 });
    sessionId = s.id;
    const client = await connect(owner.token);
    client.send({ type: "subscribe", sessionId, afterSeq: 0 });
    await expect
      .poll(() => client.events.some((e) => e.type === "session_end"), { timeout: 20_000 })
      .toBe(true);
    recorded = dataEvents(client.events);
    const seqs = recorded.map((e) => e.seq);
    expect(seqs.every((seq) => Number.isInteger(seq))).toBe(true);
    // Messages already there come first (replayed, in seq order), then the snapshot; from it on, one by one.
    const snapshot = recorded.findIndex((e) => e.type === "session_update");
    const live = seqs.slice(snapshot) as number[];
    expect(live).toEqual(live.map((_, i) => live[0]! + i));
    expect(seqs.slice(0, snapshot + 1)).toEqual([...seqs.slice(0, snapshot + 1)].sort((a, b) => a! - b!));
    expect(recorded.at(-1)).toMatchObject({ type: "session_end", data: { status: "completed" } });
    // With afterSeq 0, the stream holds the whole transcript, once, in order.
    const final = await getSession(ctx.app, owner, sessionId);
    expect(recorded.flatMap((e) => (e.type === "new_message" ? [e.data!.id] : []))).toEqual(
      final.messages.map((m) => m.id),
    );
    client.socket.close();
  });

  it("subscribe with afterSeq = k sends exactly the messages after k, then the state and the end", async () => {
    const messagesSent = recorded.filter((e) => e.type === "new_message");
    const end = recorded.at(-1)!;
    for (const k of [0, messagesSent[2].seq!, messagesSent.at(-1).seq!, end.seq!]) {
      const client = await connect(owner.token);
      client.send({ type: "subscribe", sessionId, afterSeq: k });
      await expect.poll(() => client.events.some((e) => e.type === "session_end")).toBe(true);
      expect(client.events).toEqual([
        { type: "subscribed", sessionId },
        ...messagesSent.filter((e) => e.seq! > k),
        {
          type: "session_update",
          sessionId,
          seq: end.seq,
          data: { status: "completed", messageCount: 8, lastMessage: expect.any(String) },
        },
        end,
      ]);
      client.socket.close();
    }
  });

  it("keep their order across the notifications of one big transaction (big messages travel by id)", async () => {
    const s = await idleSession();
    const live = await connect(owner.token);
    live.send({ type: "subscribe", sessionId: s.id });
    await expect.poll(() => live.events.map((e) => e.type)).toEqual(["subscribed", "session_update"]);
    const start = live.events[1].seq!;
    // Too much for one NOTIFY (8000 bytes): several payloads, and every 8th message alone is too big for any.
    const items = Array.from({ length: 24 }, (_, i) => ({
      id: crypto.randomUUID(),
      senderType: "system",
      content: `${i} `.padEnd(i % 8 === 7 ? 20_000 : 2_500, "x"),
    }));
    const res = await ctx.app.inject({
      method: "POST",
      url: `/api/sessions/${s.id}/messages/batch`,
      headers: owner.headers,
      payload: { messages: items },
    });
    expect(res.statusCode, res.body).toBe(201);
    await expect
      .poll(() => live.events.filter((e) => e.type === "new_message").map((e) => e.data!.id))
      .toEqual(items.map((m) => m.id));
    const after = dataEvents(live.events).slice(1);
    expect(after.map((e) => e.seq)).toEqual(after.map((_, i) => start + 1 + i));
    await ctx.app.inject({ method: "DELETE", url: `/api/sessions/${s.id}`, headers: owner.headers });
    live.socket.close();
  });

  it("refuses an afterSeq that is not an integer ≥ 0", async () => {
    const client = await connect(owner.token);
    client.send({ type: "subscribe", sessionId, afterSeq: -1 });
    client.send({ type: "subscribe", sessionId, afterSeq: "3" });
    await expect.poll(() => client.events.length).toBe(2);
    for (const event of client.events)
      expect(event).toEqual({
        type: "error",
        sessionId,
        error: { code: "VALIDATION_ERROR", message: "afterSeq must be an integer ≥ 0" },
      });
    client.socket.close();
  });
});

describe("resuming", () => {
  it("after the socket drops, afterSeq brings every message exactly once, in order", async () => {
    const s = await session({ maxMessages: 16, messageInterval: 0.15, replyTimeout: 2 });
    const sub = resumingSubscriber(wsUrl, owner.token, s.id, { afterSeq: 0 });
    for (const atLeast of [3, 8]) {
      await expect.poll(() => sub.messageIds().length, { timeout: 15_000 }).toBeGreaterThanOrEqual(atLeast);
      sub.drop();
    }
    await expect.poll(() => sub.ended(), { timeout: 20_000 }).toBe(true);
    sub.close();
    const final = await waitForEnd(ctx.app, owner, s.id);
    expect(sub.connections).toBe(3);
    expect(sub.messageIds()).toEqual(final.messages.map((m) => m.id));
    expect(sub.events.filter((e) => e.type === "session_end")).toHaveLength(1);
  });

  it("afterSeq replays from the tables, whether or not the events were ever notified", async () => {
    // A session nobody plays (its bot never answers and the interval is long): only this test writes to it.
    const s = await session({ maxMessages: 100, messageInterval: 3600, duration: 7200, replyTimeout: 60 });
    await ctx.app.inject({ method: "DELETE", url: `/api/sessions/${s.id}`, headers: owner.headers });
    const client = await connect(owner.token);
    client.send({ type: "subscribe", sessionId: s.id });
    await expect
      .poll(() => client.events.map((e) => e.type))
      .toEqual(["subscribed", "session_update", "session_end"]);
    const before = client.events.at(-1).seq!;

    // Written and numbered, but its notification never sent.
    const lost = crypto.randomUUID();
    await ctx.db.db.transaction(async (tx) => {
      await tx.insert(messages).values({
        id: lost,
        sessionId: s.id,
        senderType: "system",
        content: "lost on the way",
        eventSeq: before + 1,
      });
      await tx
        .update(sessions)
        .set({ eventSeq: sql`${sessions.eventSeq} + 1` })
        .where(eq(sessions.id, s.id));
    });
    const again = await connect(owner.token);
    again.send({ type: "subscribe", sessionId: s.id, afterSeq: before });
    await expect.poll(() => again.events.some((e) => e.type === "session_end")).toBe(true);
    expect(again.events.filter((e) => e.type === "new_message").map((e) => e.data!.id)).toEqual([lost]);
    client.socket.close();
    again.socket.close();
  });

  it("a live subscriber that sees a jump in seq catches up from the tables before going on", async () => {
    const s = await idleSession();
    const client = await connect(owner.token);
    client.send({ type: "subscribe", sessionId: s.id });
    await expect.poll(() => client.events.map((e) => e.type)).toEqual(["subscribed", "session_update"]);
    const snapshotSeq = client.events[1].seq!;

    const lost = crypto.randomUUID();
    await ctx.db.db.transaction(async (tx) => {
      await tx.insert(messages).values({
        id: lost,
        sessionId: s.id,
        senderType: "system",
        content: "lost on the way",
        eventSeq: snapshotSeq + 1,
      });
      await tx
        .update(sessions)
        .set({ eventSeq: sql`${sessions.eventSeq} + 1` })
        .where(eq(sessions.id, s.id));
    });
    // The next event is announced as usual: one past the lost one.
    const res = await ctx.app.inject({
      method: "POST",
      url: `/api/sessions/${s.id}/messages`,
      headers: owner.headers,
      payload: { senderType: "system", content: "announced" },
    });
    expect(res.statusCode, res.body).toBe(201);
    const announced = res.json().id as string;
    await expect
      .poll(() => client.events.filter((e) => e.type === "new_message").map((e) => e.data!.id))
      .toEqual([lost, announced]);
    const after = dataEvents(client.events).slice(1);
    expect(after.map((e) => e.seq)).toEqual(after.map((_, i) => snapshotSeq + 1 + i));
    await ctx.app.inject({ method: "DELETE", url: `/api/sessions/${s.id}`, headers: owner.headers });
    client.socket.close();
  });
});
