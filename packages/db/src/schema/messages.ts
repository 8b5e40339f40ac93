import { bigint, index, integer, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { senderType } from "./enums.js";
import { sessions } from "./sessions.js";

export const messages = pgTable(
  "messages",
  {
    /** May be chosen by the client, which makes adding a message idempotent. */
    id: uuid("id").primaryKey(),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    /** Insertion order; breaks ties between messages with the same timestamp. */
    seq: bigint("seq", { mode: "number" }).generatedAlwaysAsIdentity(),
    senderType: senderType("sender_type").notNull(),
    content: text("content").notNull(),
    /** The persona turn this message belongs to (engine messages); null for messages added through the API. */
    turn: integer("turn"),
    /** Agent replies: milliseconds since the persona message they answer. */
    latencyMs: integer("latency_ms"),
    timestamp: timestamp("timestamp", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (t) => [index("messages_session_idx").on(t.sessionId, t.timestamp, t.seq)],
);

export type Message = typeof messages.$inferSelect;
export type NewMessage = typeof messages.$inferInsert;
