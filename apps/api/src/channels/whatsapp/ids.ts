// The identifiers Mimic hands out while it plays Meta: the persona's phone number, message ids (`wamid.…`),
// media ids and trace ids, shaped like WhatsApp's own.
import { createHash, randomBytes, randomInt } from "node:crypto";

const hashInt = (text: string) => createHash("sha256").update(text).digest().readUIntBE(0, 6);

/**
 * The persona's WhatsApp number (`wa_id`, digits only) in one session: a fictional US 555 number, the same for the
 * whole session and different between sessions, so a bot keeps one conversation per customer.
 */
export function personaNumber(sessionId: string): string {
  return `1555${String(hashInt(`wa-number:${sessionId}`) % 10_000_000).padStart(7, "0")}`;
}

/** Digits only: `+1 (555) 010-0001` → `15550100001`, as Graph compares numbers. */
export const digitsOf = (phone: string) => phone.replace(/[^0-9]/g, "");

/** A persona message's wamid, derived from its id: a redelivery carries the same one (bots de-duplicate on it). */
export function personaWamid(number: string, messageId: string): string {
  const id = Buffer.from(messageId.replace(/-/g, ""), "hex");
  return `wamid.${Buffer.concat([Buffer.from(`\u0018\u000b${number}\u0015\u0002\u0000\u0012\u0018\u0010`), id]).toString("base64")}`;
}

/** A new wamid for a message the bot sends. */
export function newWamid(number: string): string {
  return `wamid.${Buffer.concat([Buffer.from(`\u0018\u000b${number}\u0015\u0002\u0000\u0011\u0018\u0012`), randomBytes(18)]).toString("base64")}`;
}

/** A media id: 15 to 16 digits, like Graph's. */
export const newMediaId = () => `${randomInt(100_000_000, 999_999_999)}${randomInt(1_000_000, 9_999_999)}`;

/** The WABA id Mimic reports in `entry[].id` when the agent sets no `waba_id`: stable per agent. */
export const defaultWabaId = (agentId: string) =>
  String(100_000_000_000_000 + (hashInt(`waba:${agentId}`) % 900_000_000_000_000));

/** Graph's `fbtrace_id`: an opaque id per refused request. */
export const newTraceId = () => randomBytes(9).toString("base64").replace(/[+/]/g, "A");

/** Hub challenges are numbers in Meta's requests. */
export const newChallenge = () => String(randomInt(100_000_000, 2_000_000_000));
