// The demo WhatsApp bot: ShopCo's "Ava" as an ordinary WhatsApp Cloud API bot, written with a maintained client
// library (@kapso/whatsapp-cloud-api) and knowing nothing of Mimic. Like any such bot it is configured with a Graph
// base URL, an access token, a phone number id, an app secret and a webhook verify token: `pnpm dev` points the base
// URL at Mimic's /whatsapp, and Mimic plays Meta.
import http from "node:http";
import { WhatsAppClient } from "@kapso/whatsapp-cloud-api";
import { normalizeWebhook, verifySignature } from "@kapso/whatsapp-cloud-api/server";
import type { DemoBot } from "./bot.js";
import { demoReply } from "./bot.js";

export interface WhatsappBotOptions {
  /** The Graph API the bot calls: https://graph.facebook.com in production. */
  graphBaseUrl: string;
  graphVersion?: string;
  accessToken: string;
  phoneNumberId: string;
  appSecret: string;
  verifyToken: string;
}

interface IncomingMessage {
  from: string;
  id: string;
  type: string;
  text?: { body?: string };
  interactive?: { type?: string; buttonReply?: { id?: string }; listReply?: { id?: string } };
}

/** What Ava does with one customer message. */
async function answer(
  client: WhatsAppClient,
  options: WhatsappBotOptions,
  message: IncomingMessage,
  seen: Set<string>,
) {
  const base = { phoneNumberId: options.phoneNumberId, to: message.from };
  await client.messages.markRead({
    phoneNumberId: options.phoneNumberId,
    messageId: message.id,
    typingIndicator: { type: "text" },
  });
  const choice = message.interactive?.buttonReply?.id ?? message.interactive?.listReply?.id;
  if (choice === "delivery")
    return client.messages.sendText({ ...base, body: "Sure! What's your order number?" });
  if (choice === "refund") return client.messages.sendText({ ...base, body: demoReply("I want a refund") });
  if (choice === "human") return client.messages.sendText({ ...base, body: demoReply("a human please") });

  const text = message.text?.body ?? "";
  const first = !seen.has(message.from);
  seen.add(message.from);
  const reply = demoReply(text);
  // A first message about a parcel gets the menu; everything else the support script.
  if (first && !/#\s?\d{3,}/.test(text)) {
    return client.messages.sendInteractiveButtons({
      ...base,
      bodyText: "Hi! I'm Ava from ShopCo. Sorry to hear that — what would you like to do?",
      footerText: "ShopCo support",
      buttons: [
        { id: "delivery", title: "New delivery date" },
        { id: "refund", title: "Refund" },
        { id: "human", title: "Talk to a human" },
      ],
    });
  }
  return client.messages.sendText({ ...base, body: reply });
}

/** Listens on loopback: GET /webhook answers Meta's verification, POST /webhook takes messages and statuses. */
export async function startWhatsappDemoBot(port: number, options: WhatsappBotOptions): Promise<DemoBot> {
  const client = new WhatsAppClient({
    baseUrl: options.graphBaseUrl,
    graphVersion: options.graphVersion ?? "v23.0",
    accessToken: options.accessToken,
  });
  const seen = new Set<string>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== "/webhook") {
      res.writeHead(404).end();
      return;
    }
    if (req.method === "GET") {
      const ok =
        url.searchParams.get("hub.mode") === "subscribe" &&
        url.searchParams.get("hub.verify_token") === options.verifyToken;
      res
        .writeHead(ok ? 200 : 403, { "content-type": "text/plain" })
        .end(ok ? url.searchParams.get("hub.challenge") : "");
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const signatureHeader = req.headers["x-hub-signature-256"] as string | undefined;
      if (!verifySignature({ appSecret: options.appSecret, rawBody: raw, signatureHeader })) {
        res.writeHead(401).end();
        return;
      }
      // Acknowledge at once, as Meta asks, then answer through Graph.
      res.writeHead(200).end();
      const { messages } = normalizeWebhook(JSON.parse(raw.toString("utf8")));
      for (const message of messages as unknown as IncomingMessage[]) {
        setTimeout(
          () =>
            void answer(client, options, message, seen).catch((error: Error) =>
              console.error(`[whatsapp demo bot] ${error.message}`),
            ),
          300 + Math.floor(Math.random() * 400),
        );
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const { port: bound } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${bound}/webhook`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
