// The one definition of Mimic's enumerated values. The API imports these constants for its schemas.
import { pgEnum } from "drizzle-orm/pg-core";

export const SESSION_STATUSES = ["pending", "active", "completed", "failed", "stopped"] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];
/** Statuses a session can no longer leave. */
export const FINISHED_SESSION_STATUSES = [
  "completed",
  "failed",
  "stopped",
] as const satisfies readonly SessionStatus[];

/**
 * Why a session ended — data, not prose (the free-text detail sits beside it in `reason`). Verdicts and
 * analytics branch on these, never on the detail.
 */
export const SESSION_END_REASONS = [
  "goal_reached",
  "persona_gave_up",
  "message_limit",
  "duration_limit",
  "stopped",
  "agent_error",
  "persona_error",
  "persona_deleted",
  "agent_deleted",
] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

/** The status each end reason leaves a session in. */
export const END_REASON_STATUS = {
  goal_reached: "completed",
  persona_gave_up: "completed",
  message_limit: "completed",
  duration_limit: "completed",
  stopped: "stopped",
  agent_error: "failed",
  persona_error: "failed",
  persona_deleted: "stopped",
  agent_deleted: "stopped",
} as const satisfies Record<SessionEndReason, (typeof FINISHED_SESSION_STATUSES)[number]>;

export const SESSION_PHASES = ["idle", "delivering", "awaiting_reply"] as const;
export type SessionPhase = (typeof SESSION_PHASES)[number];

export const AGENT_TYPES = ["webhook", "websocket", "whatsapp", "voice"] as const;
export type AgentType = (typeof AGENT_TYPES)[number];

export const AGENT_STATUSES = ["active", "inactive"] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export const SENDER_TYPES = ["persona", "agent", "system"] as const;
export type SenderType = (typeof SENDER_TYPES)[number];

export const PERSONA_PROVIDERS = ["scripted", "openai"] as const;
export type PersonaProvider = (typeof PERSONA_PROVIDERS)[number];

export const sessionStatus = pgEnum("session_status", SESSION_STATUSES);
export const sessionEndReason = pgEnum("session_end_reason", SESSION_END_REASONS);
export const sessionPhase = pgEnum("session_phase", SESSION_PHASES);
export const agentType = pgEnum("agent_type", AGENT_TYPES);
export const agentStatus = pgEnum("agent_status", AGENT_STATUSES);
export const senderType = pgEnum("sender_type", SENDER_TYPES);
export const personaProvider = pgEnum("persona_provider", PERSONA_PROVIDERS);
