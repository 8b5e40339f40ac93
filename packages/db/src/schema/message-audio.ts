import { index, integer, pgTable, uuid } from "drizzle-orm/pg-core";
import { bytea, createdAt } from "./columns.js";
import { messages } from "./messages.js";
import { sessions } from "./sessions.js";

/** Audio of one turn of a voice call (a WAV file, 8 kHz 16-bit mono, size-capped), served as `…/messages/{id}/audio`. */
export const messageAudio = pgTable(
  "message_audio",
  {
    messageId: uuid("message_id")
      .primaryKey()
      .references(() => messages.id, { onDelete: "cascade" }),
    /** The owning session: ownership is checked through it. */
    sessionId: uuid("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    durationMs: integer("duration_ms").notNull(),
    /** The WAV bytes. */
    wav: bytea("wav").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("message_audio_session_idx").on(t.sessionId)],
);

export type MessageAudio = typeof messageAudio.$inferSelect;
