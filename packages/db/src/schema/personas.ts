import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, real, text, uuid } from "drizzle-orm/pg-core";
import { createdAt, deletedAt, id, updatedAt } from "./columns.js";
import { personaProvider } from "./enums.js";
import type { SessionCheck } from "./sessions.js";
import { users } from "./users.js";

export interface PersonaConfig {
  messageInterval?: number;
  sessionDuration?: number;
  maxMessages?: number;
  replyTimeout?: number;
  /** How the persona speaks and behaves on voice calls. */
  voice?: PersonaVoiceConfig;
}

/** The offline voices Mimic speaks with (flite). `kal` is native 8 kHz phone audio; the others are resampled. */
export const PERSONA_VOICES = ["kal", "slt", "rms", "awb"] as const;

export interface PersonaVoiceConfig {
  /** Default `kal`. */
  voice?: (typeof PERSONA_VOICES)[number];
  /** Barge in: the persona starts talking this many ms into each bot utterance, and the bot should stop (`clear`). */
  interruptAfterMs?: number;
}

export const personas = pgTable(
  "personas",
  {
    id: id(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    prompt: text("prompt").notNull(),
    traits: jsonb("traits").$type<Record<string, string | number | boolean>>().notNull().default({}),
    config: jsonb("config").$type<PersonaConfig>().notNull().default({}),
    /** What the customer wants; the persona ends the conversation once it is reached. */
    goal: text("goal"),
    /** Fixed opening lines, sent in order before the provider composes anything. */
    script: jsonb("script").$type<string[]>().notNull().default([]),
    provider: personaProvider("provider").notNull().default("scripted"),
    model: text("model"),
    temperature: real("temperature"),
    seed: integer("seed"),
    /** Default checks for sessions with this persona. */
    checks: jsonb("checks").$type<SessionCheck[]>().notNull().default([]),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    /** Soft delete: past sessions keep pointing at the row. */
    deletedAt: deletedAt(),
  },
  (t) => [
    index("personas_user_idx")
      .on(t.userId, t.createdAt.desc(), t.id.desc())
      .where(sql`${t.deletedAt} is null`),
  ],
);

export type Persona = typeof personas.$inferSelect;
export type NewPersona = typeof personas.$inferInsert;
