// webhook: a signed POST per persona message; replies in the response body, or later through the API.
import { userHeaders } from "../../lib/outbound.js";
import { OutboundError, postJson } from "../outbound.js";
import { SIGNATURE_HEADER, signPayload } from "../signing.js";
import {
  type AgentAdapter,
  type DeliveryContext,
  MAX_REPLIES_PER_DELIVERY,
  MAX_REPLY_CHARS,
} from "./types.js";

/** Parses `{"reply": "…"}` or `{"replies": ["…", …]}`; anything else is a broken bot. */
export function parseReplies(body: string): string[] {
  if (body.trim() === "") return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new OutboundError("agent answered with a body that is not JSON", false);
  }
  const value = parsed as { reply?: unknown; replies?: unknown };
  const replies =
    value.replies !== undefined ? value.replies : value.reply !== undefined ? [value.reply] : [];
  if (!Array.isArray(replies) || !replies.every((r) => typeof r === "string")) {
    throw new OutboundError('agent reply must be {"reply": string} or {"replies": string[]}', false);
  }
  if (replies.length > MAX_REPLIES_PER_DELIVERY) {
    throw new OutboundError(`agent sent more than ${MAX_REPLIES_PER_DELIVERY} replies at once`, false);
  }
  return (replies as string[]).filter((r) => r.trim() !== "").map((r) => r.slice(0, MAX_REPLY_CHARS));
}

export const webhookAdapter: AgentAdapter = {
  async deliver(context: DeliveryContext) {
    const { agent, message } = context;
    if (agent.type !== "webhook") throw new OutboundError(`a ${agent.type} agent is not a webhook`, false);
    const { config } = agent;
    const body = JSON.stringify({
      type: "message",
      sessionId: context.sessionId,
      messageId: message.id,
      content: message.content,
      timestamp: message.timestamp.toISOString(),
      persona: context.persona,
    });
    // Transport headers and Mimic's own are Mimic's: a user's header never replaces them.
    const headers = userHeaders(config.headers);
    if (config.secret) headers[SIGNATURE_HEADER] = signPayload(config.secret, body);
    const timeoutMs = config.timeout_ms ?? context.policy.timeoutMs;
    const res = await postJson(config.webhook_url, body, headers, {
      ...context.policy,
      timeoutMs,
    });
    if (res.status === 202 || res.status === 204) return { replies: [], open: true };
    if (res.status >= 200 && res.status < 300) {
      const replies = parseReplies(res.body);
      return { replies, open: replies.length === 0 };
    }
    if (res.status >= 300 && res.status < 400)
      throw new OutboundError(`agent answered ${res.status} (redirects are not followed)`, false, res.status);
    const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
    throw new OutboundError(`agent answered HTTP ${res.status}`, retryable, res.status);
  },
};
