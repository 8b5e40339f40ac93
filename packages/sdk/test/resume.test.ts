// A subscription outliving its socket: the SDK resubscribes with the last seq it had ({afterSeq}), the server sends
// what the gap hid, and the callback sees every message once, in order — without reading the session over HTTP.
import type { IncomingMessage } from "node:http";
import { createTestDb, type TestDb } from "@mimic/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import { type FetchLike, MimicClient, type MimicError, type SessionEvent } from "../src/index.js";
import { startApi, type TestApi } from "./helpers/api.js";
import { startWebhookBot, type WebhookBot } from "./helpers/bot.js";
import { ENGINE_ENV, simulator } from "./helpers/simulation.js";

let db: TestDb;
let api: TestApi;
let bot: WebhookBot;
/** What clients sent on /api/ws, in order. */
const sent: { type: string; sessionId: string; afterSeq?: number }[] = [];

beforeAll(async () => {
  [db, bot] = await Promise.all([createTestDb(), startWebhookBot()]);
  api = await startApi(ENGINE_ENV, db, { engine: true });
  api.app.websocketServer.on("connection", (socket: WebSocket, _request: IncomingMessage) => {
    socket.on("message", (raw) => sent.push(JSON.parse(raw.toString())));
  });
});

afterAll(async () => {
  await api?.close();
  await db?.close();
  await bot?.close();
});

const POLL = { timeout: 20_000, interval: 20 };

describe("sessions.subscribe across dropped sockets", () => {
  it("resubscribes after the last seq: every message once, in order, and no catch-up over HTTP", async () => {
    const sim = await simulator(api.baseUrl, bot.url);
    let sessionReads = 0;
    const counting: FetchLike = (input, init) => {
      if (/\/api\/sessions\/[^/?]+$/.test(input) && (init?.method ?? "GET") === "GET") sessionReads++;
      return fetch(input, init);
    };
    const client = new MimicClient({ baseUrl: api.baseUrl, token: sim.token, fetch: counting });
    // Scripted lines: the persona has something to say at every turn and never gives up before the limit.
    const persona = await client.personas.create({
      name: "Patient Pat",
      prompt: "You are a customer asking about an order.",
      goal: null,
      script: Array.from({ length: 12 }, (_, i) => `Question ${i + 1} about order #12345.`),
    });
    const session = await client.sessions.create({
      agentId: sim.agent.id,
      personaId: persona.id,
      config: { maxMessages: 24, messageInterval: 0.15, replyTimeout: 2 },
    });
    const events: SessionEvent[] = [];
    const errors: MimicError[] = [];
    const unsubscribe = client.sessions.subscribe(session.id, (event) => events.push(event), {
      replay: true,
      onError: (error) => errors.push(error),
    });
    const messageIds = () => events.flatMap((e) => (e.type === "new_message" ? [e.data.id] : []));

    await expect.poll(() => messageIds().length, POLL).toBeGreaterThanOrEqual(2);
    const readsAfterFirstSync = sessionReads;
    for (const atLeast of [6, 10, 14]) {
      await expect.poll(() => messageIds().length, POLL).toBeGreaterThanOrEqual(atLeast);
      // The server drops every socket, as a proxy or a network failure would.
      for (const socket of api.app.websocketServer.clients) socket.terminate();
    }
    await expect.poll(() => events.some((e) => e.type === "session_end"), POLL).toBe(true);
    unsubscribe();
    const readsAtEnd = sessionReads;

    const detail = await client.sessions.get(session.id);
    expect(detail.messages).toHaveLength(24);
    expect(messageIds()).toEqual(detail.messages.map((m) => m.id));
    expect(events.filter((e) => e.type === "session_end")).toHaveLength(1);
    expect(errors).toEqual([]);
    // Each resubscription asked for what followed the last event delivered: later and later.
    const subscribes = sent.filter((m) => m.type === "subscribe" && m.sessionId === session.id);
    expect(subscribes).toHaveLength(4);
    expect(subscribes[0]).toEqual({ type: "subscribe", sessionId: session.id });
    const afterSeqs = subscribes.slice(1).map((m) => m.afterSeq);
    for (const afterSeq of afterSeqs) expect(afterSeq).toEqual(expect.any(Number));
    expect(afterSeqs).toEqual([...new Set(afterSeqs)].sort((a, b) => a! - b!));
    expect(readsAtEnd).toBe(readsAfterFirstSync);
  });
});
