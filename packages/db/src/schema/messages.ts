import { type SQL, sql } from "drizzle-orm";
import { bigint, customType, index, integer, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { senderType } from "./enums.js";
import { sessions } from "./sessions.js";

const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });

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
    /** Full-text search vector (English stemming and stop words), maintained by PostgreSQL itself. */
    search: tsvector("search").generatedAlwaysAs(
      // Angle brackets would make the parser skip `<placeholders>` as HTML tags: they are spaces to it.
      (): SQL => sql`to_tsvector('english', translate(${messages.content}, '<>', '  '))`,
    ),
  },
  (t) => [
    index("messages_session_idx").on(t.sessionId, t.timestamp, t.seq),
    index("messages_search_idx").using("gin", t.search),
    index("messages_agent_latency_idx")
      .on(t.sessionId)
      .where(sql`${t.senderType} = 'agent' and ${t.latencyMs} is not null`),
  ],
);

export type Message = typeof messages.$inferSelect;
export type NewMessage = typeof messages.$inferInsert;
