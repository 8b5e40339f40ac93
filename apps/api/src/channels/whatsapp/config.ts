// A WhatsApp agent's config as the channel uses it. Every field a session needs is checked when the session is
// created (`missingToRun`), so a running session never finds one missing.
import { OutboundError } from "../../engine/outbound.js";
import { defaultWabaId, digitsOf } from "./ids.js";

export interface WhatsappConfig {
  agentId: string;
  /** The bot's webhook: Meta-format inbound messages and statuses, and the verification GET. */
  webhookUrl: string;
  /** The bot's number, digits only (`display_phone_number` in webhooks). */
  displayNumber: string;
  phoneNumberId: string;
  /** The access token the bot presents to Graph. */
  apiKey: string;
  /** Signs webhooks (X-Hub-Signature-256). */
  appSecret: string;
  verifyToken: string;
  wabaId: string;
}

/** Config keys a WhatsApp session needs besides the schema's required ones. */
export const RUN_KEYS = ["phone_number_id", "api_key", "app_secret", "verify_token"] as const;

/** The keys a WhatsApp agent's config lacks to run a session (empty: it can run). */
export function missingToRun(config: Record<string, unknown>): string[] {
  return RUN_KEYS.filter((key) => typeof config[key] !== "string" || config[key] === "");
}

const text = (config: Record<string, unknown>, key: string) => {
  const value = config[key];
  return typeof value === "string" ? value : "";
};

/** The channel's view of a (decrypted) agent config; throws when a session could not run with it. */
export function whatsappConfig(agentId: string, config: Record<string, unknown>): WhatsappConfig {
  const missing = missingToRun(config);
  if (missing.length > 0)
    throw new OutboundError(`the WhatsApp agent's config lacks ${missing.join(", ")}`, false);
  return {
    agentId,
    webhookUrl: text(config, "webhook_url"),
    displayNumber: digitsOf(text(config, "phone_number")),
    phoneNumberId: text(config, "phone_number_id"),
    apiKey: text(config, "api_key"),
    appSecret: text(config, "app_secret"),
    verifyToken: text(config, "verify_token"),
    wabaId: text(config, "waba_id") || defaultWabaId(agentId),
  };
}
