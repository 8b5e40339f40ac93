// Status webhooks (sent, delivered, read) for the bot's messages, posted in the background: a bot that does not
// take them loses nothing but the notification, as with Meta. Closing waits for the ones in flight.
import type { FastifyBaseLogger } from "fastify";
import type { OutboundPolicy } from "../../engine/outbound.js";
import type { WhatsappConfig } from "./config.js";
import { postToWebhook, statusPayload } from "./webhook.js";

export interface StatusUpdate {
  /** The bot message's wamid. */
  id: string;
  status: "sent" | "delivered" | "read";
  /** Simulated Unix seconds. */
  timestamp: number;
  conversationId: string;
}

/**
 * Status webhooks being posted in this process, by wamid: each batch for a message goes out after the ones before it,
 * so `read` never overtakes `sent` and `delivered`. (Across processes nothing orders them — as with Meta, whose
 * statuses may arrive out of order.)
 */
const pending = new Map<string, Promise<void>>();

/** Waits, at most `timeoutMs`, for `work`. */
async function settled(work: Promise<unknown>[], timeoutMs: number) {
  if (work.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(work),
    new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
}

export class StatusSender {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly policy: OutboundPolicy,
    private readonly log: Pick<FastifyBaseLogger, "warn">,
  ) {}

  /** Posts the statuses one webhook each, in order; the first failure drops the rest. */
  async post(config: WhatsappConfig, recipient: string, updates: StatusUpdate[]) {
    for (const update of updates) {
      try {
        const status = await postToWebhook(config, statusPayload(config, recipient, update), this.policy);
        if (status < 200 || status >= 300) {
          this.log.warn({ agentId: config.agentId, status }, "the bot refused a WhatsApp status webhook");
          return;
        }
      } catch (error) {
        this.log.warn(
          { agentId: config.agentId, err: (error as Error).message },
          "WhatsApp status webhook failed",
        );
        return;
      }
    }
  }

  /** Like `post`, without waiting: after the statuses already on their way for the same messages. */
  postLater(config: WhatsappConfig, recipient: string, updates: StatusUpdate[]) {
    const ids = [...new Set(updates.map((u) => u.id))];
    const before = ids.flatMap((id) => pending.get(id) ?? []);
    const work: Promise<void> = settled(before, this.policy.timeoutMs)
      .then(() => this.post(config, recipient, updates))
      .finally(() => {
        this.inFlight.delete(work);
        for (const id of ids) if (pending.get(id) === work) pending.delete(id);
      });
    this.inFlight.add(work);
    for (const id of ids) pending.set(id, work);
  }

  async drain() {
    await Promise.allSettled([...this.inFlight]);
  }
}
