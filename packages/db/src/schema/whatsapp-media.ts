import { index, integer, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { agents } from "./agents.js";
import { bytea, createdAt } from "./columns.js";

/** Media a WhatsApp bot uploaded to Mimic's Graph surface (POST /{phone_number_id}/media), per agent. */
export const whatsappMedia = pgTable(
  "whatsapp_media",
  {
    /** Graph-style media id: 15–16 digits. */
    id: text("id").primaryKey(),
    agentId: uuid("agent_id")
      .notNull()
      .references(() => agents.id, { onDelete: "cascade" }),
    mimeType: text("mime_type").notNull(),
    fileName: text("file_name"),
    size: integer("size").notNull(),
    /** Hex SHA-256 of the bytes, as Graph reports it. */
    sha256: text("sha256").notNull(),
    data: bytea("data").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("whatsapp_media_agent_idx").on(t.agentId)],
);

export type WhatsappMedia = typeof whatsappMedia.$inferSelect;
