// Meta's side of the bot's webhook: inbound-message and status payloads in the Cloud API format, signed with
// X-Hub-Signature-256, and the verification handshake (GET ?hub.mode=subscribe&hub.verify_token&hub.challenge).
import { createHmac } from "node:crypto";
import http from "node:http";
import https from "node:https";
import {
  assertTarget,
  formatDuration,
  guardedLookup,
  networkReason,
  OutboundError,
  type OutboundPolicy,
  postJson,
} from "../../engine/outbound.js";
import type { WhatsappConfig } from "./config.js";
import { newChallenge } from "./ids.js";

export const HUB_SIGNATURE_HEADER = "x-hub-signature-256";

/** `sha256=<hex HMAC-SHA256(app_secret, raw body)>`. */
export const hubSignature = (appSecret: string, rawBody: string) =>
  `sha256=${createHmac("sha256", appSecret).update(rawBody).digest("hex")}`;

/** The persona as WhatsApp shows it to the bot: its profile name and its number. */
export interface WaContact {
  name: string;
  waId: string;
}

/** A message the persona sends: plain text, or a tap on a reply button or list row of one of the bot's messages. */
export type InboundContent =
  | { type: "text"; body: string }
  | {
      type: "button_reply" | "list_reply";
      choice: { id: string; title: string; description?: string | undefined };
      context: string;
    };

function envelope(config: WhatsappConfig, value: Record<string, unknown>) {
  return {
    object: "whatsapp_business_account",
    entry: [
      {
        id: config.wabaId,
        changes: [
          {
            field: "messages",
            value: {
              messaging_product: "whatsapp",
              metadata: {
                display_phone_number: config.displayNumber,
                phone_number_id: config.phoneNumberId,
              },
              ...value,
            },
          },
        ],
      },
    ],
  };
}

/** The webhook Meta posts when a customer writes. */
export function inboundMessagePayload(
  config: WhatsappConfig,
  contact: WaContact,
  message: { id: string; timestamp: number; content: InboundContent },
) {
  const { content } = message;
  const base = { from: contact.waId, id: message.id, timestamp: String(Math.floor(message.timestamp)) };
  const body =
    content.type === "text"
      ? { ...base, type: "text", text: { body: content.body } }
      : {
          context: { from: config.displayNumber, id: content.context },
          ...base,
          type: "interactive",
          interactive: { type: content.type, [content.type]: content.choice },
        };
  return envelope(config, {
    contacts: [{ profile: { name: contact.name }, wa_id: contact.waId }],
    messages: [body],
  });
}

/** The webhook Meta posts when a message of the bot is sent, delivered or read. */
export function statusPayload(
  config: WhatsappConfig,
  recipient: string,
  status: { id: string; status: "sent" | "delivered" | "read"; timestamp: number; conversationId: string },
) {
  return envelope(config, {
    statuses: [
      {
        id: status.id,
        status: status.status,
        timestamp: String(Math.floor(status.timestamp)),
        recipient_id: recipient,
        conversation: { id: status.conversationId, origin: { type: "service" } },
        pricing: { billable: true, pricing_model: "PMP", category: "service", type: "regular" },
      },
    ],
  });
}

/** POSTs a payload to the bot's webhook, signed; answers its HTTP status. */
export async function postToWebhook(config: WhatsappConfig, payload: unknown, policy: OutboundPolicy) {
  const body = JSON.stringify(payload);
  const res = await postJson(
    config.webhookUrl,
    body,
    { [HUB_SIGNATURE_HEADER]: hubSignature(config.appSecret, body) },
    policy,
  );
  return res.status;
}

/** GETs a URL with the engine's outbound rules (scheme, resolved address, timeouts, size cap, no redirects). */
function getText(target: string, policy: OutboundPolicy): Promise<{ status: number; body: string }> {
  const url = new URL(target);
  assertTarget(url, ["http:", "https:"], policy.allowPrivateTargets);
  const transport = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, {
      method: "GET",
      headers: { "user-agent": "facebookexternalua (Mimic)" },
      lookup: guardedLookup(policy.allowPrivateTargets),
    });
    const timer = setTimeout(() => {
      req.destroy(new OutboundError(`no answer within ${formatDuration(policy.timeoutMs)}`, true));
    }, policy.timeoutMs);
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error instanceof OutboundError ? error : new OutboundError(networkReason(error), true));
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > policy.maxResponseBytes)
          req.destroy(new OutboundError(`response larger than ${policy.maxResponseBytes} bytes`, false));
        else chunks.push(chunk);
      });
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    req.end();
  });
}

/**
 * Meta's webhook verification: `GET webhook_url?hub.mode=subscribe&hub.verify_token=…&hub.challenge=<random>`; the
 * bot must answer 200 with the challenge as its body. Mimic runs it before a session's first message; call it too
 * when a WhatsApp agent is saved with a `verify_token` or its `webhook_url` changes. Throws an OutboundError (not
 * retryable) whose message says what went wrong.
 */
export async function verifyWebhook(
  config: Pick<WhatsappConfig, "webhookUrl" | "verifyToken">,
  policy: OutboundPolicy,
): Promise<void> {
  const challenge = newChallenge();
  const url = new URL(config.webhookUrl);
  url.searchParams.set("hub.mode", "subscribe");
  url.searchParams.set("hub.verify_token", config.verifyToken);
  url.searchParams.set("hub.challenge", challenge);
  let res: { status: number; body: string };
  try {
    res = await getText(url.href, policy);
  } catch (error) {
    throw new OutboundError(`webhook verification failed: ${(error as Error).message}`, false);
  }
  if (res.status !== 200)
    throw new OutboundError(
      `webhook verification failed: GET answered HTTP ${res.status}`,
      false,
      res.status,
    );
  if (res.body.trim() !== challenge)
    throw new OutboundError("webhook verification failed: the bot did not echo hub.challenge", false);
}

/**
 * The save-time handshake, on a WhatsApp agent's stored config: call it when an agent is saved with a `verify_token`,
 * or its `webhook_url` or `verify_token` changes (an agent without a verify token is not checked until it runs).
 */
export async function verifyAgentWebhook(
  config: { webhook_url: string; verify_token?: string | undefined },
  policy: OutboundPolicy,
): Promise<void> {
  if (!config.verify_token) return;
  await verifyWebhook({ webhookUrl: config.webhook_url, verifyToken: config.verify_token }, policy);
}
