// The Graph calls a bot makes, played by Mimic: which agent is calling (phone number id + its access token), which
// session a message belongs to (the running session of that agent whose persona has the `to` number), Meta's
// checks, and what gets recorded. Every refusal becomes a `system` finding in the session(s) it concerns.
import { createHash } from "node:crypto";
import type { Database, WhatsappMessageMeta } from "@mimic/db";
import { safeEqual } from "../../lib/safe-equal.js";
import { type WhatsappConfig, whatsappConfig } from "./config.js";
import {
  GraphError,
  invalidParameter,
  invalidToken,
  recipientNotAllowed,
  reengagement,
  unknownObject,
  valueInvalid,
} from "./errors.js";
import { digitsOf, newWamid, personaNumber } from "./ids.js";
import { parseOutgoing } from "./outgoing.js";
import type { StatusSender } from "./statuses.js";
import {
  type AgentRow,
  agentConfigOf,
  agentsByPhoneNumberId,
  type Candidate,
  candidateSessions,
  lastCustomerMessageAt,
  MAX_FINDING_SESSIONS,
  markReadByBot,
  recordBotMessage,
  recordFinding,
  unknownMedia,
} from "./store.js";

/** The customer-service window: free-form messages only this long after the customer's last message. */
export const SERVICE_WINDOW_SECONDS = 24 * 3600;

/** The conversation id statuses carry: one per session. */
export const conversationId = (sessionId: string) =>
  createHash("sha256").update(`wa-conversation:${sessionId}`).digest("hex").slice(0, 32);

export interface Caller {
  agent: AgentRow;
  config: WhatsappConfig;
}

/**
 * The agent calling: registered with this phone number id and holding this token. An unknown phone number id is a
 * 100; a missing token, or one that is not that agent's `api_key` (a Mimic user token, another agent's key), a 190.
 */
export async function authenticate(
  db: Database,
  phoneNumberId: string,
  token: string | undefined,
): Promise<Caller> {
  if (!/^[0-9]{1,32}$/.test(phoneNumberId)) throw unknownObject(phoneNumberId);
  const rows = await agentsByPhoneNumberId(db, phoneNumberId);
  if (rows.length === 0) throw unknownObject(phoneNumberId);
  if (!token) throw invalidToken("An access token is required to request this resource");
  for (const agent of rows) {
    const config = agentConfigOf(db, agent);
    if (typeof config.api_key === "string" && config.api_key && safeEqual(config.api_key, token)) {
      try {
        return { agent, config: whatsappConfig(agent.id, config) };
      } catch {
        // Not runnable (no app secret …): no session of it can be running either.
      }
    }
  }
  throw invalidToken();
}

export interface GraphDeps {
  db: Database;
  statuses: StatusSender;
}

const running = (candidates: Candidate[]) =>
  candidates.filter((c) => c.running).slice(0, MAX_FINDING_SESSIONS);

async function refuse(db: Database, targets: Candidate[], error: GraphError): Promise<never> {
  await recordFinding(
    db,
    targets.map((t) => t.session.id),
    `WhatsApp refused a message from the bot — ${error.finding}`,
    { code: error.code, message: error.message, details: error.details },
  );
  throw error;
}

/** POST /{version}/{phone_number_id}/messages. */
export async function sendMessage(deps: GraphDeps, caller: Caller, body: unknown) {
  const { db } = deps;
  const candidates = await candidateSessions(db, [caller.agent.id]);
  const given = (body as { to?: unknown } | null)?.to;
  const to = typeof given === "string" ? digitsOf(given) : "";
  const mine = to ? candidates.filter((c) => personaNumber(c.session.id) === to) : [];
  // The session the message belongs to; when none can be told, a refusal is a finding in each running session.
  const target = mine.find((c) => c.running) ?? mine[0];
  const targets = target ? (target.running ? [target] : []) : running(candidates);

  let outgoing: ReturnType<typeof parseOutgoing>;
  try {
    outgoing = parseOutgoing(body);
  } catch (error) {
    if (error instanceof GraphError) return refuse(db, targets, error);
    throw error;
  }

  if (outgoing.kind === "read") {
    const sessionIds = candidates.map((c) => c.session.id);
    const at = candidates[0]?.now ?? Date.now() / 1000;
    const found = await markReadByBot(db, sessionIds, outgoing.messageId, at, outgoing.typing);
    if (!found)
      return refuse(
        db,
        running(candidates),
        invalidParameter(`message_id ${outgoing.messageId} is not a message this number received`),
      );
    return { success: true };
  }

  if (!target) return refuse(db, targets, recipientNotAllowed(String(given)));
  const number = personaNumber(target.session.id);
  const wamid = newWamid(number);
  const response = {
    messaging_product: "whatsapp",
    contacts: [{ input: String(given), wa_id: number }],
    messages: [{ id: wamid, ...(outgoing.template ? { message_status: "accepted" } : {}) }],
  };
  // The customer's phone is put away: late messages to an ended session are accepted, and go nowhere.
  if (!target.running) return response;

  const missing = await unknownMedia(db, outgoing.mediaIds, caller.agent.id);
  if (missing.length > 0)
    return refuse(
      db,
      targets,
      valueInvalid(
        `media id ${missing[0]} was not uploaded by this number (POST /{phone_number_id}/media first)`,
      ),
    );
  if (!outgoing.template) {
    const last = await lastCustomerMessageAt(db, target.session.id);
    if (last === undefined || target.now - last > SERVICE_WINDOW_SECONDS)
      return refuse(db, targets, reengagement());
  }

  const meta: WhatsappMessageMeta = {
    ...outgoing.meta,
    id: wamid,
    statuses: [
      { status: "sent", timestamp: target.now },
      { status: "delivered", timestamp: target.now },
    ],
  };
  const recorded = await recordBotMessage(db, target.session.id, outgoing.content, meta);
  if (recorded) {
    const conversation = conversationId(target.session.id);
    deps.statuses.postLater(caller.config, number, [
      { id: wamid, status: "sent", timestamp: target.now, conversationId: conversation },
      { id: wamid, status: "delivered", timestamp: target.now, conversationId: conversation },
    ]);
  }
  return response;
}
