// Real peers on loopback for engine tests: a webhook bot, a WebSocket bot and an OpenAI-compatible server.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { SIGNATURE_HEADER, verifySignature } from "../../src/engine/signing.js";

export interface ReceivedMessage {
  sessionId: string;
  messageId: string;
  content: string;
  persona: { id: string; name: string };
  signatureValid: boolean | undefined;
  headers: http.IncomingHttpHeaders;
}

export type WebhookBehaviour = (
  message: ReceivedMessage,
  attempt: number,
) => {
  status: number;
  body?: unknown;
  delayMs?: number;
};

export interface WebhookBot {
  url: string;
  received: ReceivedMessage[];
  close(): Promise<void>;
}

/** A webhook bot; `behaviour` decides each answer (default: echo as {"reply"}). */
export async function startWebhookBot(
  behaviour: WebhookBehaviour = (m) => ({ status: 200, body: { reply: `You said: ${m.content}` } }),
  secret?: string,
): Promise<WebhookBot> {
  const received: ReceivedMessage[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const body = JSON.parse(raw) as Omit<ReceivedMessage, "signatureValid" | "headers">;
      const message: ReceivedMessage = {
        ...body,
        signatureValid: secret
          ? verifySignature(secret, raw, req.headers[SIGNATURE_HEADER] as string)
          : undefined,
        headers: req.headers,
      };
      received.push(message);
      const attempt = received.filter((m) => m.messageId === message.messageId).length;
      const answer = behaviour(message, attempt);
      setTimeout(() => {
        res.writeHead(answer.status, { "content-type": "application/json" });
        res.end(answer.body === undefined ? "" : JSON.stringify(answer.body));
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhook`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface WsBot {
  url: string;
  received: { sessionId: string; messageId: string; content: string }[];
  connections: number;
  /** Connections currently open. */
  open: () => number;
  authorization: (string | undefined)[];
  close(): Promise<void>;
}

/** A WebSocket bot: greets on connect (if `greeting`), answers every message frame. */
export async function startWsBot(
  options: { greeting?: string; reply?: (content: string) => string[]; hangUpAfterReply?: boolean } = {},
): Promise<WsBot> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const bot: WsBot = {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/chat`,
    received: [],
    connections: 0,
    open: () => wss.clients.size,
    authorization: [],
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
  wss.on("connection", (socket, req) => {
    bot.connections++;
    bot.authorization.push(req.headers.authorization);
    if (options.greeting) socket.send(JSON.stringify({ type: "message", content: options.greeting }));
    socket.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as { sessionId: string; messageId: string; content: string };
      bot.received.push(frame);
      for (const text of options.reply?.(frame.content) ?? [`Echo: ${frame.content}`]) {
        socket.send(JSON.stringify({ type: "message", content: text }));
      }
      if (options.hangUpAfterReply) socket.close(1011, "bot restarting");
    });
  });
  return bot;
}

export interface ChatRequest {
  model: string;
  messages: { role: string; content: string }[];
  temperature?: number;
  seed?: number;
}

export interface LlmServer {
  baseUrl: string;
  requests: ChatRequest[];
  close(): Promise<void>;
}

/** An OpenAI-compatible /v1/chat/completions endpoint driven by `answer`. */
export async function startLlmServer(
  answer: (request: ChatRequest, n: number) => { status?: number; content?: string; delayMs?: number },
): Promise<LlmServer> {
  const requests: ChatRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url !== "/v1/chat/completions" || req.method !== "POST") {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString()) as ChatRequest;
      requests.push(body);
      const a = answer(body, requests.length);
      setTimeout(() => {
        if (a.status && a.status !== 200) {
          res.writeHead(a.status, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: { message: "upstream trouble", type: "server_error" } }));
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            id: `chatcmpl-${requests.length}`,
            object: "chat.completion",
            created: Math.floor(Date.now() / 1000),
            model: body.model,
            choices: [
              { index: 0, finish_reason: "stop", message: { role: "assistant", content: a.content ?? "" } },
            ],
            usage: { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 },
          }),
        );
      }, a.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
