// The engine's WhatsApp agent adapter: Mimic plays Meta towards the bot's webhook. It verifies the webhook before
// a session's first message, then posts each persona message as Meta's signed `messages` webhook — text, or a tap
// on one of the bot's buttons or list rows — after `read` statuses for the bot messages the persona has read.
// The bot answers through the Graph surface (routes.ts), outside the delivery, like a WebSocket bot's frames.
import type { Database, WhatsappMessageMeta } from "@mimic/db";
import type { FastifyBaseLogger } from "fastify";
import type { AgentAdapter, DeliveryContext } from "../../engine/agents/types.js";
import { OutboundError } from "../../engine/outbound.js";
import { matchOption } from "../../engine/persona/choices.js";
import { whatsappConfig } from "./config.js";
import { conversationId } from "./graph.js";
import { personaNumber, personaWamid } from "./ids.js";
import { StatusSender } from "./statuses.js";
import { addStatuses, answeredSince, deliveryState, describePersonaMessage } from "./store.js";
import { type InboundContent, inboundMessagePayload, postToWebhook, verifyWebhook } from "./webhook.js";

type Recent = Awaited<ReturnType<typeof deliveryState>>["recent"];

/** What the persona's message is on WhatsApp: a tap on an option the bot just offered, or text. */
function inboundContent(
  content: string,
  recent: Recent,
): { inbound: InboundContent; meta: WhatsappMessageMeta } {
  const offer = recent.findLast(
    (m) => m.senderType === "agent" && m.metadata?.whatsapp?.interactive?.options,
  );
  const whatsapp = offer?.metadata?.whatsapp;
  const interactive = whatsapp?.interactive;
  const choice = interactive?.options ? matchOption(content, interactive.options) : undefined;
  if (!whatsapp?.id || !interactive || !choice)
    return { inbound: { type: "text", body: content }, meta: { type: "text" } };
  const type = interactive.type === "list" ? "list_reply" : "button_reply";
  return {
    inbound: { type, choice, context: whatsapp.id },
    meta: {
      type: "interactive",
      interactive: { type, choice: { id: choice.id, title: choice.title } },
      context: whatsapp.id,
    },
  };
}

export function createWhatsappAdapter(db: Database, log: Pick<FastifyBaseLogger, "warn">): AgentAdapter {
  let sender: StatusSender | undefined;
  return {
    async open(context) {
      const config = whatsappConfig(context.agent.id, context.agent.config);
      await verifyWebhook(config, context.policy);
    },

    async deliver(context: DeliveryContext) {
      const config = whatsappConfig(context.agent.id, context.agent.config);
      const number = personaNumber(context.sessionId);
      const { now, recent } = await deliveryState(db, context.sessionId, context.message.id);

      // The persona read what the bot sent before writing back.
      const unread = recent.flatMap((m) => {
        const whatsapp = m.metadata?.whatsapp;
        const read = whatsapp?.statuses?.some((s) => s.status === "read");
        return m.senderType === "agent" && whatsapp?.id && !read ? [{ id: m.id, wamid: whatsapp.id }] : [];
      });
      if (unread.length > 0) {
        await addStatuses(
          db,
          unread.map((m) => m.id),
          { status: "read", timestamp: now },
        );
        // In the background, so the reply's latency counts from the message webhook alone.
        const conversation = conversationId(context.sessionId);
        sender ??= new StatusSender(context.policy, log);
        sender.postLater(
          config,
          number,
          unread.map((m) => ({ id: m.wamid, status: "read", timestamp: now, conversationId: conversation })),
        );
      }

      const { inbound, meta } = inboundContent(context.message.content, recent);
      // Recorded before posting, once: a redelivery sends the same wamid, at the same simulated time.
      const described = await describePersonaMessage(db, context.message.id, {
        ...meta,
        id: personaWamid(number, context.message.id),
        timestamp: now,
      });
      const payload = inboundMessagePayload(
        config,
        { name: context.persona.name, waId: number },
        { id: described.id!, timestamp: described.timestamp ?? now, content: inbound },
      );
      const status = await postToWebhook(config, payload, context.policy);
      // Meta retries anything but a 200 with backoff; so does Mimic, through the engine's schedule.
      if (status < 200 || status >= 300)
        throw new OutboundError(`agent answered HTTP ${status}`, true, status);
      // Replies come through Graph. A bot may have answered already, before acknowledging the webhook.
      return { replies: [], open: !(await answeredSince(db, context.sessionId, context.message)) };
    },

    async shutdown() {
      await sender?.drain();
    },
  };
}
