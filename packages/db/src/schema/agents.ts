import { sql } from "drizzle-orm";
import { index, jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { createdAt, deletedAt, id, updatedAt } from "./columns.js";
import { agentStatus, agentType } from "./enums.js";
import { users } from "./users.js";

export const agents = pgTable(
  "agents",
  {
    id: id(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    type: agentType("type").notNull(),
    /** Per-type settings. Secrets (api_key, signing secrets) live here and are masked in every response. */
    config: jsonb("config").$type<Record<string, unknown>>().notNull().default({}),
    status: agentStatus("status").notNull().default("active"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    /** Soft delete: past sessions keep pointing at the row. */
    deletedAt: deletedAt(),
  },
  (t) => [
    index("agents_user_idx").on(t.userId, t.createdAt.desc(), t.id.desc()).where(sql`${t.deletedAt} is null`),
  ],
);

export type Agent = typeof agents.$inferSelect;
export type NewAgent = typeof agents.$inferInsert;
