import { sql } from "drizzle-orm";
import { boolean, index, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { agents } from "./agents.js";
import { createdAt, id, updatedAt } from "./columns.js";
import { sessionEndReason, sessionPhase, sessionStatus } from "./enums.js";
import { personas } from "./personas.js";
import { users } from "./users.js";

export interface SessionConfig {
  /** Seconds since start after which the session completes. */
  duration: number;
  /** Messages (all senders) after which the session completes. */
  maxMessages: number;
  /** Seconds the persona waits between its messages. */
  messageInterval: number;
  /** Seconds to wait for the agent's replies after each persona message. */
  replyTimeout: number;
}

/** A check a finished session must pass. `patterns` are PostgreSQL regular expressions (case-insensitive). */
export type SessionCheck =
  | { type: "reply_within"; ms: number }
  | { type: "all_answered" }
  | { type: "must_match"; pattern: string }
  | { type: "must_not_match"; pattern: string }
  | { type: "goal_reached" }
  | { type: "llm_judge"; rubric: string }
  | { type: "whatsapp_valid" }
  | { type: "voice_valid" }
  | { type: "first_audio_within"; ms: number }
  | { type: "no_long_silence"; ms: number };

export interface CheckResult {
  name: string;
  type: SessionCheck["type"] | "completed";
  status: "passed" | "failed" | "skipped";
  passed: boolean | null;
  detail: string;
}

export interface SessionResult {
  passed: boolean;
  checks: CheckResult[];
}

export const sessions = pgTable(
  "sessions",
  {
    id: id(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    agentId: uuid("agent_id")
      .notNull()
      .references(() => agents.id),
    personaId: uuid("persona_id")
      .notNull()
      .references(() => personas.id),
    status: sessionStatus("status").notNull().default("pending"),
    config: jsonb("config").$type<SessionConfig>().notNull(),
    /** Free JSON from the user (≤ 16 KiB, enforced by the API). */
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    /** Why the session ended, as data (set with `status` when it ends). */
    endReason: sessionEndReason("end_reason"),
    /** The end's free-text detail: "goal not reached", "agent unreachable: no reply within 20 s" … */
    reason: text("reason"),
    checks: jsonb("checks").$type<SessionCheck[]>().notNull().default([]),
    /** Verdict of the session's checks, set when it ends. */
    result: jsonb("result").$type<SessionResult>(),
    /** The session ended and its checks still have to run (the engine does it, then announces session_end). */
    verdictPending: boolean("verdict_pending").notNull().default(false),
    /** Sessions started together by `repeat` share a group. */
    groupId: uuid("group_id"),
    /** Engine state: when the next turn is due, and which worker holds the session until when. */
    nextTurnAt: timestamp("next_turn_at", { withTimezone: true, mode: "date" }),
    /** Persona messages written so far; the next persona message is number `turn`. */
    turn: integer("turn").notNull().default(0),
    /**
     * Where the current turn stands: `idle` (next persona message not written yet), `delivering` (written, not yet
     * confirmed delivered: a worker taking over redelivers the same message), `awaiting_reply` (delivered, replies
     * may still arrive until `awaitingSince + replyTimeout`).
     */
    phase: sessionPhase("phase").notNull().default("idle"),
    awaitingSince: timestamp("awaiting_since", { withTimezone: true, mode: "date" }),
    /** Consecutive failed deliveries; reset by any successful one. */
    failures: integer("failures").notNull().default(0),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: timestamp("lease_expires_at", { withTimezone: true, mode: "date" }),
    /** Persona and agent messages so far, and the time of the latest message: kept by a trigger on messages. */
    messageCount: integer("message_count").notNull().default(0),
    lastMessageAt: timestamp("last_message_at", { withTimezone: true, mode: "date" }),
    /**
     * The seq of the session's latest live event (session_update, new_message, session_end): every event gets the
     * next one, assigned in the transaction that sends it, so subscribers can resume after the last one they saw.
     */
    eventSeq: integer("event_seq").notNull().default(0),
    promptTokens: integer("prompt_tokens").notNull().default(0),
    completionTokens: integer("completion_tokens").notNull().default(0),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }),
    endedAt: timestamp("ended_at", { withTimezone: true, mode: "date" }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index("sessions_user_idx").on(t.userId, t.createdAt.desc(), t.id.desc()),
    index("sessions_agent_idx").on(t.agentId, t.createdAt),
    index("sessions_persona_idx").on(t.personaId, t.createdAt),
    index("sessions_due_idx")
      .on(t.nextTurnAt)
      .where(sql`${t.status} in ('pending', 'active') or ${t.verdictPending}`),
    index("sessions_group_idx").on(t.groupId).where(sql`${t.groupId} is not null`),
  ],
);

export type Session = typeof sessions.$inferSelect;
export type NewSession = typeof sessions.$inferInsert;
