import { sql } from "drizzle-orm";
import { index, jsonb, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { createdAt, deletedAt, id, updatedAt } from "./columns.js";
import { type AgentType, agentStatus, agentType } from "./enums.js";
import { users } from "./users.js";

// Agent config per type. The API's TypeBox schemas (WebhookAgentConfig …) describe the same shapes and are checked
// against these at compile time. Secret values (`api_key`, `secret`, `app_secret`, `verify_token`, header values)
// are stored encrypted (`enc:v1:…`): still strings.

export type WebhookAgentConfig = {
  webhook_url: string;
  secret?: string;
  api_key?: string;
  headers?: Record<string, string>;
  timeout_ms?: number;
};

export type WebsocketAgentConfig = {
  url: string;
  api_key?: string;
  headers?: Record<string, string>;
};

export type WhatsappAgentConfig = {
  webhook_url: string;
  phone_number: string;
  phone_number_id?: string;
  api_key?: string;
  app_secret?: string;
  verify_token?: string;
  waba_id?: string;
};

export type VoiceAgentConfig = {
  phone_number?: string;
  url?: string;
  api_key?: string;
  /** Sent to the bot in the Media Streams `start` frame, as Twilio sends a TwiML `<Stream>`'s `<Parameter>`s. */
  custom_parameters?: Record<string, string>;
};

export type AgentConfigByType = {
  webhook: WebhookAgentConfig;
  websocket: WebsocketAgentConfig;
  whatsapp: WhatsappAgentConfig;
  voice: VoiceAgentConfig;
};

export type AgentConfig = AgentConfigByType[AgentType];

/** An agent's type with its config: checking `type` narrows `config`. */
export type TypedAgentConfig = { [T in AgentType]: { type: T; config: AgentConfigByType[T] } }[AgentType];

export const agents = pgTable(
  "agents",
  {
    id: id(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    type: agentType("type").notNull(),
    /**
     * Per-type settings (the shape depends on `type`). Secrets (api_key, signing secrets, header values) live here
     * encrypted and are masked in every response.
     */
    config: jsonb("config").$type<AgentConfig>().notNull().default({}),
    status: agentStatus("status").notNull().default("active"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    /** Soft delete: past sessions keep pointing at the row. */
    deletedAt: deletedAt(),
  },
  (t) => [
    index("agents_user_idx").on(t.userId, t.createdAt.desc(), t.id.desc()).where(sql`${t.deletedAt} is null`),
    // The WhatsApp Graph surface finds the agent a bot's call is for by its phone number id.
    index("agents_whatsapp_phone_idx")
      .on(sql`(${t.config}->>'phone_number_id')`)
      .where(sql`${t.type} = 'whatsapp' and ${t.deletedAt} is null`),
  ],
);

export type Agent = typeof agents.$inferSelect;
export type NewAgent = typeof agents.$inferInsert;
