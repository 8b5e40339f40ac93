import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { startWebhookBot, type WebhookBot } from "../support/bots.js";
import { createAgent, createPersona, ENGINE_ENV, getSession, startSession } from "./fixtures.js";

let ctx: TestContext;
let owner: TestUser;
let wsUrl: string;
let bot: WebhookBot;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  ctx = await createTestApp(
    { ...ENGINE_ENV, MIMIC_WS_MAX_CONNECTIONS: "3", MIMIC_WS_PING_MS: "200" },
    { engine: true },
  );
  await ctx.app.listen({ host: "127.0.0.1", port: 0 });
  wsUrl = `ws://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}/api/ws`;
  owner = await registerUser(ctx.app);
  bot = await startWebhookBot((m) => ({
    status: 200,
    body: { reply: `Re: ${m.content.slice(0, 20)}` },
    delayMs: 20,
  }));
});
afterAll(async () => {
  for (const s of sockets) s.terminate();
  await ctx.close();
  await bot.close();
});

interface Client {
  socket: WebSocket;
  events: Record<string, unknown>[];
  send(msg: object): void;
  closed: Promise<{ code: number; reason: string }>;
}

async function connect(options: { token?: string; query?: boolean } = {}): Promise<Client> {
  const url = options.query && options.token ? `${wsUrl}?token=${encodeURIComponent(options.token)}` : wsUrl;
  const headers = !options.query && options.token ? { authorization: `Bearer ${options.token}` } : undefined;
  const socket = new WebSocket(url, headers ? { headers } : {});
  sockets.push(socket);
  const events: Record<string, unknown>[] = [];
  socket.on("message", (data) => events.push(JSON.parse(data.toString())));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  return { socket, events, send: (msg) => socket.send(JSON.stringify(msg)), closed };
}

async function runningSession(user: TestUser, config: object) {
  const persona = await createPersona(ctx.app, user, { goal: null });
  const agent = await createAgent(ctx.app, user, { webhook_url: bot.url });
  return startSession(ctx.app, user, { agentId: agent.id, personaId: persona.id, config });
}

describe("live events on /api/ws", () => {
  it("streams the seed's events for a session: subscribed, updates, every message in order, one session_end", async () => {
    const client = await connect({ token: owner.token });
    const persona = await createPersona(ctx.app, owner, { goal: null });
    const agent = await createAgent(ctx.app, owner, { webhook_url: bot.url });
    // Subscribe before the session is due, so no event is missed: a long first interval would be needed otherwise.
    const session = await startSession(ctx.app, owner, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 6, messageInterval: 0.3, replyTimeout: 2 },
    });
    client.send({ type: "subscribe", sessionId: session.id });
    await expect
      .poll(() => client.events.some((e) => e.type === "session_end"), { timeout: 15_000 })
      .toBe(true);

    expect(client.events[0]).toEqual({ type: "subscribed", sessionId: session.id });
    expect(client.events[1]).toMatchObject({
      type: "session_update",
      sessionId: session.id,
      data: { status: expect.any(String) },
    });
    const final = await getSession(ctx.app, owner, session.id);
    const messageEvents = client.events.filter((e) => e.type === "new_message") as {
      data: { id: string; senderType: string };
    }[];
    // Anything written before the subscription landed is in the transcript; everything after arrived live, in order.
    const ids = final.messages.map((m) => m.id);
    const received = messageEvents.map((e) => e.data.id);
    expect(ids.slice(ids.length - received.length)).toEqual(received);
    expect(received.length).toBeGreaterThanOrEqual(5);
    for (const e of messageEvents) {
      expect(e.data).toEqual(
        expect.objectContaining({
          senderType: expect.stringMatching(/persona|agent/),
          content: expect.any(String),
        }),
      );
    }
    const ends = client.events.filter((e) => e.type === "session_end");
    expect(ends).toEqual([
      {
        type: "session_end",
        sessionId: session.id,
        seq: expect.any(Number),
        data: expect.objectContaining({
          reason: "message limit reached",
          status: "completed",
          messageCount: 6,
          duration: expect.any(Number),
        }),
      },
    ]);
    const updates = client.events.filter((e) => e.type === "session_update") as {
      data: { status: string; messageCount: number };
    }[];
    expect(updates.at(-1)!.data).toMatchObject({ status: "completed", messageCount: 6 });
    client.socket.close();
  });

  it("sends events as text frames, the same bytes to every subscriber of a session", async () => {
    const session = await runningSession(owner, { maxMessages: 100, messageInterval: 60, duration: 120 });
    const clients = await Promise.all([connect({ token: owner.token }), connect({ token: owner.token })]);
    const frames = clients.map((client) => {
      const seen: { text: string; binary: boolean }[] = [];
      client.socket.on("message", (data, isBinary) => seen.push({ text: data.toString(), binary: isBinary }));
      client.send({ type: "subscribe", sessionId: session.id });
      return seen;
    });
    await expect
      .poll(() => clients.every((c) => c.events.some((e) => e.type === "session_update")))
      .toBe(true);
    for (const content of ["fan-out 1", "fan-out 2"]) {
      const posted = await ctx.app.inject({
        method: "POST",
        url: `/api/sessions/${session.id}/messages`,
        headers: owner.headers,
        payload: { senderType: "persona", content },
      });
      expect(posted.statusCode).toBe(201);
    }
    await ctx.app.inject({ method: "DELETE", url: `/api/sessions/${session.id}`, headers: owner.headers });
    await expect
      .poll(() => clients.every((c) => c.events.some((e) => e.type === "session_end")), { timeout: 10_000 })
      .toBe(true);
    for (const seen of frames) expect(seen.filter((f) => f.binary)).toEqual([]);
    const posted = (seen: { text: string }[]) =>
      seen.map((f) => f.text).filter((t) => t.startsWith('{"type":"new_message"') && t.includes("fan-out"));
    expect(posted(frames[0]!)).toHaveLength(2);
    expect(posted(frames[1]!)).toEqual(posted(frames[0]!));
    for (const client of clients) client.socket.close();
  });

  it("answers another user's session with an error event and never its data", async () => {
    const stranger = await registerUser(ctx.app);
    const session = await runningSession(owner, { maxMessages: 4, messageInterval: 0.1 });
    const client = await connect({ token: stranger.token });
    client.send({ type: "subscribe", sessionId: session.id });
    client.send({ type: "subscribe", sessionId: "not-a-uuid" });
    await expect.poll(() => client.events.length).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 600));
    // Replies to the two subscribes may come in either order; nothing else may come at all.
    expect(client.events).toHaveLength(2);
    expect(client.events).toEqual(
      expect.arrayContaining([
        {
          type: "error",
          sessionId: session.id,
          error: { code: "RESOURCE_NOT_FOUND", message: "Session not found" },
        },
        {
          type: "error",
          sessionId: "not-a-uuid",
          error: { code: "RESOURCE_NOT_FOUND", message: "Session not found" },
        },
      ]),
    );
    client.socket.close();
  });

  it("rejects malformed client messages with a VALIDATION_ERROR event and stays open", async () => {
    const client = await connect({ token: owner.token });
    client.socket.send("not json");
    client.send({ type: "dance", sessionId: "x" });
    await expect.poll(() => client.events.length).toBe(2);
    expect(client.events.every((e) => (e.error as { code: string }).code === "VALIDATION_ERROR")).toBe(true);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    client.socket.close();
  });

  it("stops sending a session's events after unsubscribe", async () => {
    const client = await connect({ token: owner.token });
    const session = await runningSession(owner, { maxMessages: 1000, messageInterval: 0.05, duration: 60 });
    client.send({ type: "subscribe", sessionId: session.id });
    await expect
      .poll(() => client.events.filter((e) => e.type === "new_message").length, { timeout: 10_000 })
      .toBeGreaterThanOrEqual(2);
    client.send({ type: "unsubscribe", sessionId: session.id });
    await expect.poll(() => client.events.some((e) => e.type === "unsubscribed")).toBe(true);
    const count = client.events.length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(client.events.length).toBe(count);
    await ctx.app.inject({ method: "DELETE", url: `/api/sessions/${session.id}`, headers: owner.headers });
    client.socket.close();
  });

  it("authenticates with ?token= (browsers) and with API keys; refuses an upgrade without credentials", async () => {
    const viaQuery = await connect({ token: owner.token, query: true });
    viaQuery.socket.close();
    const key = (
      await ctx.app.inject({
        method: "POST",
        url: "/api/auth/api-keys",
        headers: owner.headers,
        payload: { name: "ws" },
      })
    ).json().key as string;
    const viaKey = await connect({ token: key });
    viaKey.socket.close();
    await expect(connect()).rejects.toThrow(/401/);
    await expect(connect({ token: "garbage" })).rejects.toThrow(/401/);
  });

  it("replays the end of a session that has already finished, then sends nothing more", async () => {
    const session = await runningSession(owner, { maxMessages: 2, messageInterval: 0 });
    await expect
      .poll(async () => (await getSession(ctx.app, owner, session.id)).status, { timeout: 10_000 })
      .toBe("completed");
    // The verdict (and the live session_end) follow the end; wait for them so the replay is the only end.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const client = await connect({ token: owner.token });
    client.send({ type: "subscribe", sessionId: session.id });
    await expect
      .poll(() => client.events.map((e) => e.type))
      .toEqual(["subscribed", "session_update", "session_end"]);
    expect(client.events[2]).toMatchObject({
      sessionId: session.id,
      data: {
        status: "completed",
        endReason: "message_limit",
        reason: "message limit reached",
        messageCount: 2,
        result: { passed: true },
      },
    });
    client.socket.close();
  });

  it("ignores a duplicate subscribe and honours an unsubscribe sent right after subscribe", async () => {
    const session = await runningSession(owner, { maxMessages: 1000, messageInterval: 0.05, duration: 60 });
    const client = await connect({ token: owner.token });
    client.send({ type: "subscribe", sessionId: session.id });
    client.send({ type: "subscribe", sessionId: session.id });
    client.send({ type: "unsubscribe", sessionId: session.id });
    await expect.poll(() => client.events.some((e) => e.type === "unsubscribed")).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const after = client.events.slice(client.events.findIndex((e) => e.type === "unsubscribed") + 1);
    expect(after.filter((e) => e.type === "new_message" || e.type === "session_update")).toEqual([]);
    await ctx.app.inject({ method: "DELETE", url: `/api/sessions/${session.id}`, headers: owner.headers });
    client.socket.close();
  });

  it("closes a connection whose API key is revoked (4401), at the next credential check", async () => {
    const user = await registerUser(ctx.app);
    const { id, key } = (
      await ctx.app.inject({
        method: "POST",
        url: "/api/auth/api-keys",
        headers: user.headers,
        payload: { name: "ws" },
      })
    ).json();
    const client = await connect({ token: key });
    await ctx.app.inject({ method: "DELETE", url: `/api/auth/api-keys/${id}`, headers: user.headers });
    expect(await client.closed).toEqual({ code: 4401, reason: "Authentication expired or revoked" });
  });

  it("closes connections over the per-user limit with 1008 and a clear reason", async () => {
    const user = await registerUser(ctx.app);
    const open = [
      await connect({ token: user.token }),
      await connect({ token: user.token }),
      await connect({ token: user.token }),
    ];
    const extra = await connect({ token: user.token });
    expect(await extra.closed).toEqual({ code: 1008, reason: "Too many connections: at most 3 per user" });
    // Another user is not affected, and a freed slot can be reused.
    const other = await connect({ token: owner.token });
    open[0]!.socket.close();
    await open[0]!.closed;
    const again = await connect({ token: user.token });
    expect(again.socket.readyState).toBe(WebSocket.OPEN);
    for (const c of [...open, other, again]) c.socket.close();
  });
});
