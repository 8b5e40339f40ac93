// client.sessions against a real API whose engine plays the sessions with a real webhook bot on loopback:
// the generated methods (create, get, list, stop), then live events, which cross PostgreSQL's LISTEN/NOTIFY
// (PGlite or a real server) and a real WebSocket. One file, so that the database boots once; tests run
// concurrently (each with its own user, so they cannot see each other), except the API restart, run last.
import type { IncomingMessage } from "node:http";
import { createTestDb, type TestDb } from "@mimic/db/testing";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import WebSocket from "ws";
import {
  AuthenticationError,
  type ClientOptions,
  type FetchLike,
  MimicClient,
  type MimicError,
  NotFoundError,
  RateLimitError,
  type SessionDataEvent,
  type SessionEndEvent,
  type SessionEvent,
  type SubscribeOptions,
} from "../src/index.js";
import { liveUrl, reconnectDelayMs } from "../src/live.js";
import { type App, startApi, type TestApi } from "./helpers/api.js";
import { startWebhookBot, type WebhookBot } from "./helpers/bot.js";
import { ENGINE_ENV, LONG, SHORT, type Simulator, simulator } from "./helpers/simulation.js";

let db: TestDb;
let api: TestApi;
let bot: WebhookBot;

interface Upgrade {
  url: string;
  authorization: string | undefined;
}
/** Every WebSocket upgrade the server accepted, by the token it carried (header or query). */
const upgrades = new Map<string, Upgrade[]>();
const tokenOf = new WeakMap<object, string>();

function watchUpgrades(app: App) {
  app.websocketServer.on("connection", (socket: object, request: IncomingMessage) => {
    const url = request.url ?? "";
    const authorization = request.headers.authorization;
    const token =
      authorization?.replace(/^Bearer /, "") ?? new URL(url, "http://x").searchParams.get("token") ?? "";
    tokenOf.set(socket, token);
    upgrades.set(token, [...(upgrades.get(token) ?? []), { url, authorization }]);
  });
}

const upgradesOf = (token: string) => upgrades.get(token) ?? [];
/** The server's open sockets of one user (by token). */
const socketsOf = (token: string) =>
  [...api.app.websocketServer.clients].filter((socket) => tokenOf.get(socket) === token);

beforeAll(async () => {
  [db, bot] = await Promise.all([createTestDb(), startWebhookBot()]);
  // Over a database of its own (`db`), so that a test can restart the API on it.
  api = await startApi(ENGINE_ENV, db, { engine: true });
  watchUpgrades(api.app);
});

afterAll(async () => {
  await api?.close();
  await db?.close();
  await bot?.close();
});

type Context = Pick<TestContext, "onTestFinished">;

/** A new user with a persona and a webhook agent; its subscriptions end with the test. */
async function user(context: Context): Promise<Simulator> {
  const sim = await simulator(api.baseUrl, bot.url);
  context.onTestFinished(() => sim.client.sessions.unsubscribeAll());
  return sim;
}

/** Another client of the same user, with other options (token function, WebSocket class, fetch). */
function clientOf(context: Context, sim: Simulator, options: Partial<ClientOptions> = {}) {
  const client = new MimicClient({ baseUrl: api.baseUrl, token: sim.token, ...options });
  context.onTestFinished(() => client.sessions.unsubscribeAll());
  return client;
}

/** A session that would run on after the test: stopped when it ends. */
async function longSession(context: Context, sim: Simulator) {
  const session = await sim.start(LONG);
  context.onTestFinished(async () => {
    await sim.client.sessions.stop(session.id);
  });
  return session;
}

interface Recording {
  events: SessionEvent[];
  errors: MimicError[];
  ends: SessionEndEvent[];
  unsubscribe: () => void;
  messageIds(): string[];
  ofType<T extends SessionEvent["type"]>(type: T): Extract<SessionEvent, { type: T }>[];
}

function record(
  client: MimicClient,
  sessionId: string,
  options: Omit<SubscribeOptions, "onError" | "onEnd"> = {},
): Recording {
  const events: SessionEvent[] = [];
  const errors: MimicError[] = [];
  const ends: SessionEndEvent[] = [];
  const unsubscribe = client.sessions.subscribe(sessionId, (event) => events.push(event), {
    ...options,
    onError: (error) => errors.push(error),
    onEnd: (event) => ends.push(event),
  });
  const ofType = <T extends SessionEvent["type"]>(type: T) =>
    events.filter((event): event is Extract<SessionEvent, { type: T }> => event.type === type);
  return {
    events,
    errors,
    ends,
    unsubscribe,
    ofType,
    messageIds: () => ofType("new_message").map((event) => event.data.id),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const POLL = { timeout: 15_000, interval: 20 };

/** A browser-like WebSocket class (the token can only go in the URL) that remembers what it opened and how it closed. */
function browserLikeWebSocket() {
  const urls: string[] = [];
  const closes: number[] = [];
  class BrowserLikeWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      urls.push(url);
      this.addEventListener("close", (event) => closes.push(event.code));
    }
  }
  return { BrowserLikeWebSocket, urls, closes };
}

function ids(page: { data: { id: string }[] }) {
  return page.data.map((item) => item.id);
}

describe.concurrent("sessions (HTTP)", () => {
  it("creates a pending session, which plays to completion: get returns its transcript", async ({
    expect,
    onTestFinished,
  }) => {
    const sim = await user({ onTestFinished });
    const session = await sim.start(SHORT);
    // (toMatchObject: the API may add fields.)
    expect(session).toMatchObject({
      id: expect.any(String),
      agentId: sim.agent.id,
      personaId: sim.persona.id,
      status: "pending",
      config: { maxMessages: 6, messageInterval: 0.2, replyTimeout: 2, duration: expect.any(Number) },
      metadata: { startTime: expect.any(String), messageCount: 0 },
      reason: null,
      usage: { promptTokens: 0, completionTokens: 0 },
      startedAt: null,
      endedAt: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });

    await expect.poll(async () => (await sim.client.sessions.get(session.id)).status, POLL).toBe("completed");
    const detail = await sim.client.sessions.get(session.id);
    expect(detail).toMatchObject({
      id: session.id,
      status: "completed",
      reason: "message limit reached",
      metadata: { messageCount: 6 },
      startedAt: expect.any(String),
      endedAt: expect.any(String),
    });
    expect(detail.messages.map((message) => message.senderType)).toEqual([
      "persona",
      "agent",
      "persona",
      "agent",
      "persona",
      "agent",
    ]);
    for (const message of detail.messages) expect(message.sessionId).toBe(session.id);
    // The bot received the persona's messages and its replies are the agent's.
    const personaMessages = detail.messages.filter((message) => message.senderType === "persona");
    expect(bot.received.filter((body) => body.sessionId === session.id).map((body) => body.content)).toEqual(
      personaMessages.map((message) => message.content),
    );
    expect(detail.messages[1]?.latencyMs).toEqual(expect.any(Number));
  });

  it("lists sessions filtered by status and agent, and stops a running one", async ({
    expect,
    onTestFinished,
  }) => {
    const sim = await user({ onTestFinished });
    const otherAgent = await sim.client.agents.create({
      name: "Other bot",
      type: "webhook",
      config: { webhook_url: bot.url },
    });
    const done = await sim.start(SHORT);
    const long = await sim.client.sessions.create({
      agentId: otherAgent.id,
      personaId: sim.persona.id,
      config: LONG,
    });
    await expect.poll(async () => (await sim.client.sessions.get(done.id)).status, POLL).toBe("completed");
    await expect
      .poll(async () => (await sim.client.sessions.get(long.id)).messages.length, POLL)
      .toBeGreaterThanOrEqual(2);

    expect(ids(await sim.client.sessions.list())).toEqual([long.id, done.id]);
    expect(ids(await sim.client.sessions.list({ status: "completed" }))).toEqual([done.id]);
    expect(ids(await sim.client.sessions.list({ status: "active" }))).toEqual([long.id]);
    expect(ids(await sim.client.sessions.list({ agentId: otherAgent.id }))).toEqual([long.id]);
    const all: string[] = [];
    for await (const session of sim.client.sessions.list({ limit: 1 })) all.push(session.id);
    expect(all).toEqual([long.id, done.id]);

    const stopped = await sim.client.sessions.stop(long.id);
    expect(stopped).toEqual({
      id: long.id,
      status: "stopped",
      endReason: "stopped",
      reason: "stopped by user",
      updatedAt: expect.any(String),
    });
    const after = await sim.client.sessions.get(long.id);
    expect(after).toMatchObject({
      status: "stopped",
      reason: "stopped by user",
      endedAt: expect.any(String),
    });
    expect(after.messages.length).toBeGreaterThanOrEqual(2);
    // A finished session is returned unchanged, and stays as it is.
    expect(await sim.client.sessions.stop(done.id)).toMatchObject({ status: "completed" });
    expect(ids(await sim.client.sessions.list({ status: "stopped" }))).toEqual([long.id]);
  });

  it("throws NotFoundError for another user's session", async ({ expect, onTestFinished }) => {
    const owner = await user({ onTestFinished });
    const stranger = await user({ onTestFinished });
    const session = await owner.start(SHORT);
    for (const call of [
      () => stranger.client.sessions.get(session.id),
      () => stranger.client.sessions.stop(session.id),
      () => stranger.client.sessions.messages.create(session.id, { senderType: "system", content: "hi" }),
    ]) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(NotFoundError);
      expect(error).toMatchObject({ status: 404, code: "RESOURCE_NOT_FOUND" });
    }
    expect(ids(await stranger.client.sessions.list())).toEqual([]);
    await expect
      .poll(async () => (await owner.client.sessions.get(session.id)).status, POLL)
      .toBe("completed");
  });
});

describe.concurrent("sessions.subscribe", () => {
  it("streams every message in order, session updates, and one session_end (the seed's example)", async ({
    expect,
    onTestFinished,
  }) => {
    const sim = await user({ onTestFinished });
    const session = await sim.start(SHORT);
    const seen = record(sim.client, session.id, { replay: true });

    await expect.poll(() => seen.ends.length, POLL).toBe(1);
    const detail = await sim.client.sessions.get(session.id);
    expect(detail.status).toBe("completed");
    expect(detail.messages).toHaveLength(6);
    // Every message once, in the transcript's order, with the transcript's content.
    expect(seen.ofType("new_message").map((event) => event.data)).toEqual(
      detail.messages.map(({ sessionId: _, ...data }) => data),
    );
    expect(seen.ofType("new_message").map((event) => event.data.senderType)).toEqual([
      "persona",
      "agent",
      "persona",
      "agent",
      "persona",
      "agent",
    ]);
    expect(seen.ofType("session_update").length).toBeGreaterThanOrEqual(1);
    for (const update of seen.ofType("session_update")) {
      expect(update).toEqual({
        type: "session_update",
        sessionId: session.id,
        data: {
          status: expect.any(String),
          messageCount: expect.any(Number),
          lastMessage: update.data.messageCount === 0 ? null : expect.any(String),
        },
      });
    }
    expect(seen.ofType("session_update").at(-1)?.data).toMatchObject({
      status: "completed",
      messageCount: 6,
    });
    // One session_end, the last event, also handed to onEnd; no error.
    expect(seen.ofType("session_end")).toHaveLength(1);
    expect(seen.events.at(-1)).toMatchObject({
      type: "session_end",
      sessionId: session.id,
      data: {
        reason: "message limit reached",
        status: "completed",
        duration: expect.any(Number),
        messageCount: 6,
      },
    });
    expect(seen.ends).toEqual([seen.events.at(-1)]);
    expect(seen.errors).toEqual([]);
    // The subscription ended with the session, and the socket with the last subscription.
    await expect.poll(() => socketsOf(sim.token).length, POLL).toBe(0);

    // Subscribing to a finished session: its snapshot, then a session_end built from it, equal to the real one.
    const late = await sim.client.sessions.events(session.id).next();
    expect(late.value).toEqual({
      type: "session_update",
      sessionId: session.id,
      data: { status: "completed", messageCount: 6, lastMessage: detail.messages.at(-1)?.timestamp },
    });
    const again: SessionDataEvent[] = [];
    for await (const event of sim.client.sessions.events(session.id, { replay: true })) again.push(event);
    expect(again.filter((event) => event.type === "new_message")).toEqual(seen.ofType("new_message"));
    expect(again.at(-1)).toEqual(seen.ends[0]);
  });

  it("without replay, delivers what happens after it took effect: the transcript's tail, in order", async ({
    expect,
    onTestFinished,
  }) => {
    const sim = await user({ onTestFinished });
    const session = await sim.start(SHORT);
    const updates: SessionEvent[] = [];
    // Exactly as in the seed.
    const unsubscribe = sim.client.sessions.subscribe(session.id, (update) => {
      updates.push(update);
    });
    expect(unsubscribe).toBeTypeOf("function");

    await expect.poll(() => updates.some((event) => event.type === "session_end"), POLL).toBe(true);
    const detail = await sim.client.sessions.get(session.id);
    const received = updates.flatMap((event) => (event.type === "new_message" ? [event.data.id] : []));
    const ids = detail.messages.map((message) => message.id);
    expect(received).toEqual(ids.slice(ids.length - received.length));
    // The server's snapshot, and the updates that follow each message.
    expect(updates.filter((event) => event.type === "session_update").length).toBeGreaterThanOrEqual(1);
    expect(updates.filter((event) => event.type === "session_end")).toHaveLength(1);
    unsubscribe();
    unsubscribe();
  });

  it("stops delivering once unsubscribed or aborted, while the session goes on", async ({
    expect,
    onTestFinished,
  }) => {
    const sim = await user({ onTestFinished });
    const session = await longSession({ onTestFinished }, sim);
    const byFunction = record(sim.client, session.id);
    const controller = new AbortController();
    const bySignal = record(sim.client, session.id, { signal: controller.signal });
    const stays = record(sim.client, session.id);

    await expect.poll(() => byFunction.ofType("new_message").length, POLL).toBeGreaterThanOrEqual(2);
    await expect.poll(() => bySignal.ofType("new_message").length, POLL).toBeGreaterThanOrEqual(2);
    byFunction.unsubscribe();
    controller.abort();
    const frozen = [byFunction.events.length, bySignal.events.length];
    byFunction.unsubscribe(); // idempotent

    // The session goes on: three more messages reach the subscription that stayed, none the others.
    const delivered = stays.ofType("new_message").length;
    await expect.poll(() => stays.ofType("new_message").length, POLL).toBeGreaterThanOrEqual(delivered + 3);
    expect([byFunction.events.length, bySignal.events.length]).toEqual(frozen);
    expect(byFunction.errors).toEqual([]);
    expect(byFunction.ends).toEqual([]);

    // One socket carried all three; it closes with the last subscription.
    expect(socketsOf(sim.token)).toHaveLength(1);
    stays.unsubscribe();
    await expect.poll(() => socketsOf(sim.token).length, POLL).toBe(0);
    expect((await sim.client.sessions.get(session.id)).status).toBe("active");
  });

  it("gives another user's session an error event RESOURCE_NOT_FOUND and NotFoundError, never its events", async ({
    expect,
    onTestFinished,
  }) => {
    const owner = await user({ onTestFinished });
    const stranger = await user({ onTestFinished });
    const session = await longSession({ onTestFinished }, owner);

    const seen = record(stranger.client, session.id);
    await expect.poll(() => seen.errors.length, POLL).toBe(1);
    expect(seen.errors[0]).toBeInstanceOf(NotFoundError);
    expect(seen.errors[0]).toMatchObject({ status: 404, code: "RESOURCE_NOT_FOUND" });
    expect(seen.events).toEqual([
      {
        type: "error",
        sessionId: session.id,
        error: { code: "RESOURCE_NOT_FOUND", message: expect.any(String) },
      },
    ]);
    // While the owner's session produces messages, nothing more arrives.
    await expect
      .poll(async () => (await owner.client.sessions.get(session.id)).messages.length, POLL)
      .toBeGreaterThanOrEqual(3);
    expect(seen.events).toHaveLength(1);
    await expect.poll(() => socketsOf(stranger.token).length, POLL).toBe(0);

    // The iterator throws the same error.
    await expect(stranger.client.sessions.events(session.id).next()).rejects.toBeInstanceOf(NotFoundError);
  });

  it("reconnects after the server drops the socket, and fetches the messages sent meanwhile", async ({
    expect,
    onTestFinished,
  }) => {
    const sim = await user({ onTestFinished });
    let armed = false;
    let gapEnded = 0;
    // The token for the reconnection takes 700 ms: messages are sent while nothing is connected.
    const client = clientOf({ onTestFinished }, sim, {
      token: async () => {
        if (armed) {
          armed = false;
          await sleep(700);
          gapEnded = Date.now();
        }
        return sim.token;
      },
    });
    const session = await sim.start({ ...SHORT, maxMessages: 14 });
    const seen = record(client, session.id, { replay: true });
    // Replayed messages come from the catch-up GET: once they are here, the client makes no more requests.
    await expect.poll(() => seen.ofType("new_message").length, POLL).toBeGreaterThanOrEqual(2);

    armed = true;
    const before = upgradesOf(sim.token).length;
    const gapStarted = Date.now();
    for (const socket of socketsOf(sim.token)) socket.terminate();

    await expect.poll(() => seen.ends.length, POLL).toBe(1);
    expect(upgradesOf(sim.token)).toHaveLength(before + 1);
    const detail = await client.sessions.get(session.id);
    expect(detail.messages).toHaveLength(14);
    // Every message exactly once, in order, including those sent while disconnected.
    expect(seen.messageIds()).toEqual(detail.messages.map((message) => message.id));
    const duringGap = detail.messages.filter((message) => {
      const at = Date.parse(message.timestamp);
      return at > gapStarted && at < gapEnded;
    });
    expect(duringGap.length).toBeGreaterThanOrEqual(2);
    expect(seen.ofType("session_end")).toHaveLength(1);
    expect(seen.ends[0]?.data).toMatchObject({ status: "completed", messageCount: 14 });
    expect(seen.errors).toEqual([]);
  });

  it("delivers the session_end of a session that ended while the socket was down", async ({
    expect,
    onTestFinished,
  }) => {
    const sim = await user({ onTestFinished });
    let armed = false;
    const session = await sim.start(SHORT);
    const over = async () => {
      const now = await sim.client.sessions.get(session.id);
      return now.status !== "active" && now.status !== "pending" && now.result !== null;
    };
    // The reconnection waits until the session is over and judged: its resubscription's catch-up carries the
    // session's state and its end, both with the session's last seq.
    const client = clientOf({ onTestFinished }, sim, {
      token: async () => {
        if (armed) {
          armed = false;
          await expect.poll(over, POLL).toBe(true);
        }
        return sim.token;
      },
    });
    const seen = record(client, session.id, { replay: true });
    await expect.poll(() => seen.ofType("new_message").length, POLL).toBeGreaterThanOrEqual(1);
    armed = true;
    for (const socket of socketsOf(sim.token)) socket.terminate();

    await expect.poll(() => seen.ends.length, POLL).toBe(1);
    const detail = await client.sessions.get(session.id);
    expect(seen.ends[0]?.data).toMatchObject({ status: detail.status, messageCount: detail.messages.length });
    expect(seen.messageIds()).toEqual(detail.messages.map((message) => message.id));
    expect(seen.errors).toEqual([]);
  });

  it("multiplexes every subscription of a client on one socket", async ({ expect, onTestFinished }) => {
    const sim = await user({ onTestFinished });
    const [a, b] = await Promise.all([sim.start(SHORT), sim.start(SHORT)]);
    const onA = record(sim.client, a.id, { replay: true });
    const onB = record(sim.client, b.id, { replay: true });
    const onAToo = record(sim.client, a.id, { replay: true });
    // Joining a session the socket is subscribed to already: no new server subscription, no server
    // snapshot, so the SDK makes the snapshot from the session it reads.
    await expect.poll(() => onB.ofType("new_message").length, POLL).toBeGreaterThanOrEqual(2);
    const onBLate = record(sim.client, b.id);

    await expect
      .poll(() => [onA, onB, onAToo, onBLate].every((seen) => seen.ends.length === 1), POLL)
      .toBe(true);
    expect(upgradesOf(sim.token)).toHaveLength(1);
    expect(onBLate.events[0]).toMatchObject({ type: "session_update", sessionId: b.id });
    expect(onBLate.ends).toEqual(onB.ends);
    const [detailA, detailB] = await Promise.all([
      sim.client.sessions.get(a.id),
      sim.client.sessions.get(b.id),
    ]);
    expect(onA.messageIds()).toEqual(detailA.messages.map((message) => message.id));
    expect(onAToo.messageIds()).toEqual(onA.messageIds());
    expect(onB.messageIds()).toEqual(detailB.messages.map((message) => message.id));
    expect(onB.messageIds().slice(onB.messageIds().length - onBLate.messageIds().length)).toEqual(
      onBLate.messageIds(),
    );
    expect(onAToo.ofType("session_end")).toHaveLength(1);
    await expect.poll(() => socketsOf(sim.token).length, POLL).toBe(0);
  });

  it("sends the token as an Authorization header in Node, asking a token function each time", async ({
    expect,
    onTestFinished,
  }) => {
    const sim = await user({ onTestFinished });
    let calls = 0;
    const client = clientOf({ onTestFinished }, sim, {
      token: async () => {
        calls++;
        await sleep(1);
        return sim.token;
      },
    });
    const session = await sim.start(SHORT);
    const seen = record(client, session.id, { replay: true });
    await expect.poll(() => seen.ends.length, POLL).toBe(1);
    expect(seen.messageIds()).toHaveLength(6);
    expect(calls).toBeGreaterThanOrEqual(2); // the socket, then the catch-up GET
    expect(upgradesOf(sim.token)).toEqual([{ url: "/api/ws", authorization: `Bearer ${sim.token}` }]);
  });

  it("sends ?token= when the WebSocket class cannot send headers (browsers)", async ({
    expect,
    onTestFinished,
  }) => {
    const sim = await user({ onTestFinished });
    const { BrowserLikeWebSocket, urls } = browserLikeWebSocket();
    const client = clientOf({ onTestFinished }, sim, { webSocket: BrowserLikeWebSocket });
    const session = await sim.start(SHORT);
    const seen = record(client, session.id, { replay: true });
    await expect.poll(() => seen.ends.length, POLL).toBe(1);
    expect(seen.messageIds()).toHaveLength(6);
    const expected = `${api.baseUrl.replace("http://", "ws://")}/api/ws?token=${encodeURIComponent(sim.token)}`;
    expect(urls).toEqual([expected]);
    expect(upgradesOf(sim.token)).toEqual([
      { url: `/api/ws?token=${encodeURIComponent(sim.token)}`, authorization: undefined },
    ]);
  });

  it("fails with AuthenticationError when the token is refused, and does not reconnect", async ({
    expect,
    onTestFinished,
  }) => {
    const sim = await user({ onTestFinished });
    const session = await sim.start(SHORT);
    let probes = 0;
    const countingFetch: FetchLike = (input, init) => {
      if (input.endsWith("/api/auth/me")) probes++;
      return fetch(input, init);
    };
    // Node's header path, and the browser-like query path.
    const { BrowserLikeWebSocket, urls } = browserLikeWebSocket();
    const header = record(
      clientOf({ onTestFinished }, sim, { token: "not-a-token", fetch: countingFetch }),
      session.id,
    );
    const query = record(
      clientOf({ onTestFinished }, sim, {
        token: "not-a-token",
        fetch: countingFetch,
        webSocket: BrowserLikeWebSocket,
      }),
      session.id,
    );

    for (const seen of [header, query]) {
      await expect.poll(() => seen.errors.length, POLL).toBe(1);
      expect(seen.errors[0]).toBeInstanceOf(AuthenticationError);
      expect(seen.events).toEqual([
        {
          type: "error",
          sessionId: session.id,
          error: { code: "AUTHENTICATION_ERROR", message: expect.any(String) },
        },
      ]);
    }
    // Well past the first reconnection delays: no second attempt.
    await sleep(600);
    expect(probes).toBe(2);
    expect(urls).toHaveLength(1);
  });

  it("fails with RateLimitError when the user holds too many connections (1008), and does not reconnect", async ({
    expect,
    onTestFinished,
  }) => {
    const sim = await user({ onTestFinished });
    const session = await sim.start(SHORT);
    const url = liveUrl(api.baseUrl);
    const held = await Promise.all(
      Array.from({ length: 10 }, async () => {
        const socket = new WebSocket(url, { headers: { authorization: `Bearer ${sim.token}` } });
        await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
        return socket;
      }),
    );
    try {
      const { BrowserLikeWebSocket, urls } = browserLikeWebSocket();
      const seen = record(clientOf({ onTestFinished }, sim, { webSocket: BrowserLikeWebSocket }), session.id);
      await expect.poll(() => seen.errors.length, POLL).toBe(1);
      expect(seen.errors[0]).toBeInstanceOf(RateLimitError);
      expect(seen.errors[0]).toMatchObject({
        code: "RATE_LIMIT_EXCEEDED",
        message: expect.stringMatching(/10/),
      });
      expect(seen.events).toEqual([
        {
          type: "error",
          sessionId: session.id,
          error: { code: "RATE_LIMIT_EXCEEDED", message: expect.any(String) },
        },
      ]);
      await sleep(600);
      expect(urls).toHaveLength(1);
    } finally {
      await Promise.all(
        held.map((socket) => {
          const closed = new Promise((resolve) => socket.once("close", resolve));
          socket.close();
          return closed;
        }),
      );
    }
  });

  it("refuses what cannot work before connecting", () => {
    const { BrowserLikeWebSocket, urls } = browserLikeWebSocket();
    const client = new MimicClient({ baseUrl: api.baseUrl, webSocket: BrowserLikeWebSocket });
    expect(() => client.sessions.subscribe("", () => {})).toThrow(TypeError);
    // @ts-expect-error: a callback is required
    expect(() => client.sessions.subscribe("id")).toThrow(TypeError);
    const relative = new MimicClient({ baseUrl: "" });
    expect(() => relative.sessions.subscribe("id", () => {})).toThrow(/baseUrl must be absolute/);
    // An aborted signal: nothing happens at all.
    const unsubscribe = client.sessions.subscribe("id", () => {}, { signal: AbortSignal.abort() });
    unsubscribe();
    expect(urls).toEqual([]);
  });
});

describe.concurrent("sessions.events", () => {
  it("yields the session's events and returns after session_end", async ({ expect, onTestFinished }) => {
    const sim = await user({ onTestFinished });
    const session = await sim.start(SHORT);
    const events: SessionDataEvent[] = [];
    for await (const event of sim.client.sessions.events(session.id, { replay: true })) events.push(event);
    const detail = await sim.client.sessions.get(session.id);
    expect(events.flatMap((event) => (event.type === "new_message" ? [event.data.id] : []))).toEqual(
      detail.messages.map((message) => message.id),
    );
    expect(events.filter((event) => event.type === "session_end")).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({
      type: "session_end",
      data: { status: "completed", messageCount: 6 },
    });
    await expect.poll(() => socketsOf(sim.token).length, POLL).toBe(0);
  });

  it("unsubscribes when the loop breaks, and rejects with the signal's reason when aborted", async ({
    expect,
    onTestFinished,
  }) => {
    const sim = await user({ onTestFinished });
    const session = await longSession({ onTestFinished }, sim);
    for await (const event of sim.client.sessions.events(session.id)) {
      if (event.type === "new_message") break;
    }
    await expect.poll(() => socketsOf(sim.token).length, POLL).toBe(0);

    const controller = new AbortController();
    const iterator = sim.client.sessions.events(session.id, { signal: controller.signal });
    const first = await iterator.next();
    expect(first.value).toMatchObject({ sessionId: session.id });
    setTimeout(() => controller.abort(new Error("enough")), 50);
    await expect(
      (async () => {
        for (;;) await iterator.next();
      })(),
    ).rejects.toThrow("enough");
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    await expect.poll(() => socketsOf(sim.token).length, POLL).toBe(0);
  });
});

describe("reconnectDelayMs", () => {
  it("doubles from 250 ms to a 10 s cap, jittered over the upper half", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((attempt) => reconnectDelayMs(attempt, () => 1))).toEqual([
      250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000,
    ]);
    expect(reconnectDelayMs(0, () => 0)).toBe(125);
    expect(reconnectDelayMs(20, () => 0)).toBe(5000);
  });
});

// Last and alone: it restarts the API every other test uses.
describe("across an API restart", () => {
  it("survives an API restart (close 1001): the next process finishes the session and the subscriber sees it", async ({
    expect,
    onTestFinished,
  }) => {
    const sim = await user({ onTestFinished });
    const { BrowserLikeWebSocket, closes } = browserLikeWebSocket();
    const client = clientOf({ onTestFinished }, sim, { webSocket: BrowserLikeWebSocket });
    const session = await sim.start({ ...SHORT, maxMessages: 10 });
    const seen = record(client, session.id, { replay: true });
    await expect.poll(() => seen.ofType("new_message").length, POLL).toBeGreaterThanOrEqual(2);

    // The same port and database, another process: the engine's leases pass from one to the other.
    const port = Number(new URL(api.baseUrl).port);
    await api.close();
    await expect.poll(() => closes, POLL).toEqual([1001]);
    api = await startApi(ENGINE_ENV, db, { engine: true, port });
    watchUpgrades(api.app);

    await expect.poll(() => seen.ends.length, POLL).toBe(1);
    const detail = await client.sessions.get(session.id);
    expect(seen.messageIds()).toEqual(detail.messages.map((message) => message.id));
    expect(seen.ends[0]?.data).toMatchObject({ status: "completed", messageCount: 10 });
    expect(seen.errors).toEqual([]);
    // Attempts made while nothing listened failed (1006); the subscription over, the client closed its
    // last socket normally.
    await expect.poll(() => closes.at(-1), POLL).toBe(1000);
    expect(closes[0]).toBe(1001);
    expect(new Set(closes.slice(1, -1))).toEqual(new Set(closes.length > 2 ? [1006] : []));
  });
});
