// WhatsApp test peers: a Cloud API bot written with a maintained client library (@kapso/whatsapp-cloud-api), knowing
// nothing of Mimic — configured only with a Graph base URL, an access token, a phone number id, an app secret and a
// verify token, like any deployment — plus fixtures for WhatsApp agents and sessions.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WhatsAppClient } from "@kapso/whatsapp-cloud-api";
import { normalizeWebhook, verifySignature } from "@kapso/whatsapp-cloud-api/server";
import { type MessageMetadata, messages as messagesTable } from "@mimic/db";
import type { TestDb } from "@mimic/db/testing";
import { asc, eq } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import { getSession, type SessionBody } from "../engine/fixtures.js";
import type { TestUser } from "../helpers.js";

export interface WaSettings {
  /** The Graph API: https://graph.facebook.com in production, Mimic's /whatsapp here. */
  graphBaseUrl: string;
  accessToken: string;
  phoneNumberId: string;
  appSecret: string;
  verifyToken: string;
}

export interface InboundMessage {
  from: string;
  id: string;
  timestamp: string;
  type: string;
  text?: { body: string };
  context?: { from: string; id: string };
  interactive?: {
    type: string;
    buttonReply?: { id: string; title: string };
    listReply?: { id: string; title: string; description?: string };
  };
}

export interface InboundStatus {
  id: string;
  status: string;
  timestamp: string;
  recipientId: string;
}

export interface Delivery {
  raw: string;
  /** The X-Hub-Signature-256 header. */
  signature: string | undefined;
  signatureValid: boolean;
  phoneNumberId: string | undefined;
  contacts: { waId?: string; profile?: { name?: string } }[];
}

export interface WaBotOptions {
  /** What the bot does with a customer message (default: nothing). Errors are collected in `errors`. */
  onMessage?: (message: InboundMessage, bot: WaBot) => Promise<unknown>;
  /** The HTTP status the webhook answers for the n-th delivery of a message (default 200). */
  status?: (message: InboundMessage, attempt: number) => number;
  /** How the bot answers Meta's verification (default: as it should). */
  verify?: "echo" | "forbid" | "garble";
  /** Verify signatures with this secret instead of the configured one (a misconfigured bot). */
  appSecretOverride?: string;
}

export interface WaBot {
  url: string;
  client: WhatsAppClient;
  settings: WaSettings;
  deliveries: Delivery[];
  messages: InboundMessage[];
  statuses: InboundStatus[];
  verifications: URLSearchParams[];
  /** Changes how the bot answers Meta's verification from now on (it was registered with a good one). */
  setVerify(mode: "echo" | "forbid" | "garble"): void;
  /** Errors the bot's calls raised (GraphApiError from the library). */
  errors: unknown[];
  /** Sends as the bot, answering a customer message (to: its sender). */
  reply(
    message: InboundMessage,
    send: (base: { phoneNumberId: string; to: string }) => Promise<unknown>,
  ): Promise<unknown>;
  close(): Promise<void>;
}

export async function startWaBot(settings: WaSettings, options: WaBotOptions = {}): Promise<WaBot> {
  const client = new WhatsAppClient({
    baseUrl: settings.graphBaseUrl,
    graphVersion: "v23.0",
    accessToken: settings.accessToken,
  });
  const attempts = new Map<string, number>();
  const bot: WaBot = {
    url: "",
    client,
    settings,
    deliveries: [],
    messages: [],
    statuses: [],
    verifications: [],
    setVerify: (mode) => {
      options.verify = mode;
    },
    errors: [],
    reply: (message, send) =>
      send({ phoneNumberId: settings.phoneNumberId, to: message.from }).catch((error: unknown) => {
        bot.errors.push(error);
        return undefined;
      }),
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (req.method === "GET") {
      bot.verifications.push(url.searchParams);
      const ok =
        url.searchParams.get("hub.mode") === "subscribe" &&
        url.searchParams.get("hub.verify_token") === settings.verifyToken;
      if (options.verify === "forbid" || !ok) res.writeHead(403).end();
      else
        res.writeHead(200).end(options.verify === "garble" ? "123" : url.searchParams.get("hub.challenge"));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const signatureValid = verifySignature({
        appSecret: options.appSecretOverride ?? settings.appSecret,
        rawBody: raw,
        signatureHeader: req.headers["x-hub-signature-256"] as string | undefined,
      });
      const normalized = normalizeWebhook(JSON.parse(raw.toString("utf8")));
      bot.deliveries.push({
        raw: raw.toString("utf8"),
        signature: req.headers["x-hub-signature-256"] as string | undefined,
        signatureValid,
        phoneNumberId: normalized.phoneNumberId,
        contacts: normalized.contacts,
      });
      if (!signatureValid) {
        res.writeHead(401).end();
        return;
      }
      bot.statuses.push(...(normalized.statuses as unknown as InboundStatus[]));
      const inbound = normalized.messages as unknown as InboundMessage[];
      let status = 200;
      for (const message of inbound) {
        const attempt = (attempts.get(message.id) ?? 0) + 1;
        attempts.set(message.id, attempt);
        status = options.status?.(message, attempt) ?? 200;
      }
      res.writeHead(status).end();
      if (status !== 200) return;
      for (const message of inbound) {
        bot.messages.push(message);
        void options.onMessage?.(message, bot).catch((error: unknown) => bot.errors.push(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  bot.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
  bot.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return bot;
}

let counter = 0;

/** Settings for a new WhatsApp number: a phone number id and secrets no other test uses. */
export function newWaSettings(graphBaseUrl: string): WaSettings {
  counter++;
  const suffix = `${process.pid}${Date.now() % 100000}${counter}`;
  return {
    graphBaseUrl,
    accessToken: `EAAG-test-token-${suffix}`,
    phoneNumberId: `10${suffix}`,
    appSecret: `app-secret-${suffix}`,
    verifyToken: `verify-${suffix}`,
  };
}

/** A WhatsApp agent for the bot. */
export async function createWaAgent(
  app: FastifyInstance,
  user: TestUser,
  bot: WaBot,
  phoneNumber = "+15550100001",
) {
  const res = await app.inject({
    method: "POST",
    url: "/api/agents",
    headers: user.headers,
    payload: {
      name: "WhatsApp bot",
      type: "whatsapp",
      config: {
        webhook_url: bot.url,
        phone_number: phoneNumber,
        phone_number_id: bot.settings.phoneNumberId,
        api_key: bot.settings.accessToken,
        app_secret: bot.settings.appSecret,
        verify_token: bot.settings.verifyToken,
      },
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string };
}

/** The transcript with each message's WhatsApp metadata, read from the database. */
export async function transcript(db: TestDb, sessionId: string) {
  return db.db
    .select({
      senderType: messagesTable.senderType,
      content: messagesTable.content,
      latencyMs: messagesTable.latencyMs,
      metadata: messagesTable.metadata,
    })
    .from(messagesTable)
    .where(eq(messagesTable.sessionId, sessionId))
    .orderBy(asc(messagesTable.timestamp), asc(messagesTable.seq)) as Promise<
    { senderType: string; content: string; latencyMs: number | null; metadata: MessageMetadata | null }[]
  >;
}

/** Polls until `check` holds (or throws after the deadline). */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface JudgedSession extends SessionBody {
  endReason: string | null;
  result: { passed: boolean; checks: { type: string; passed: boolean | null; detail: string }[] };
}

/** Polls until the session has ended and its verdict is stored. */
export async function waitForVerdict(
  app: FastifyInstance,
  user: TestUser,
  id: string,
  timeoutMs = 20_000,
): Promise<JudgedSession> {
  return until(
    `session ${id} to be judged`,
    async () => {
      const session = (await getSession(app, user, id)) as JudgedSession;
      return session.result ? session : undefined;
    },
    timeoutMs,
  );
}
