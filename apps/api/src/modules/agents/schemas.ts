import { AGENT_STATUSES, AGENT_TYPES } from "@mimic/db";
import { Type } from "@sinclair/typebox";
import { listOf, PageQuery, Timestamp } from "../../lib/schemas.js";

const HttpUrl = (description: string) =>
  Type.String({ format: "uri", pattern: "^https?://", maxLength: 2048, description });
const WsUrl = (description: string) =>
  Type.String({ format: "uri", pattern: "^wss?://", maxLength: 2048, description });
const Secret = (description: string) =>
  Type.String({
    minLength: 1,
    maxLength: 512,
    description: `${description}. Write-only: responses mask it.`,
  });
const Headers = Type.Record(
  Type.String({ pattern: "^[A-Za-z0-9-]{1,100}$" }),
  Type.String({ maxLength: 2048 }),
  {
    maxProperties: 20,
    description: "Extra headers sent to the agent. Write-only values: responses mask them.",
  },
);
const TimeoutMs = Type.Integer({ minimum: 100, maximum: 120_000, description: "Per-request timeout in ms" });

export const WebhookAgentConfigSchema = Type.Object(
  {
    webhook_url: HttpUrl("Where Mimic POSTs each persona message"),
    secret: Type.Optional(Secret("Signs each request (Mimic-Signature: t=…,v1=HMAC-SHA256)")),
    api_key: Type.Optional(Secret("Lets the bot post asynchronous replies to Mimic")),
    headers: Type.Optional(Headers),
    timeout_ms: Type.Optional(TimeoutMs),
  },
  { additionalProperties: false, $id: "WebhookAgentConfig" },
);

export const WebsocketAgentConfigSchema = Type.Object(
  {
    url: WsUrl("The bot's WebSocket endpoint, dialled by Mimic"),
    api_key: Type.Optional(Secret("Sent as a Bearer token when connecting")),
    headers: Type.Optional(Headers),
  },
  { additionalProperties: false, $id: "WebsocketAgentConfig" },
);

export const WhatsappAgentConfigSchema = Type.Object(
  {
    webhook_url: HttpUrl("The bot's WhatsApp webhook, which receives Meta-format inbound messages"),
    phone_number: Type.String({ pattern: "^\\+[1-9][0-9]{6,14}$", description: "The bot's number, E.164" }),
    phone_number_id: Type.Optional(
      Type.String({ pattern: "^[0-9]{1,32}$", description: "Graph phone number id" }),
    ),
    api_key: Type.Optional(Secret("The access token the bot presents when it calls the Graph API")),
    app_secret: Type.Optional(Secret("Signs inbound webhooks (X-Hub-Signature-256)")),
    verify_token: Type.Optional(Secret("Webhook verification token")),
  },
  { additionalProperties: false, $id: "WhatsappAgentConfig" },
);

export const VoiceAgentConfigSchema = Type.Object(
  {
    phone_number: Type.Optional(
      Type.String({ pattern: "^\\+[1-9][0-9]{6,14}$", description: "Number to call, E.164" }),
    ),
    url: Type.Optional(Type.String({ format: "uri", pattern: "^(https?|wss?)://", maxLength: 2048 })),
    api_key: Type.Optional(Secret("Credential for the voice endpoint")),
  },
  { additionalProperties: false, minProperties: 1, $id: "VoiceAgentConfig" },
);

export const AGENT_CONFIG_SCHEMAS = {
  webhook: WebhookAgentConfigSchema,
  websocket: WebsocketAgentConfigSchema,
  whatsapp: WhatsappAgentConfigSchema,
  voice: VoiceAgentConfigSchema,
} as const;

/** Config keys whose values are secrets: accepted on write, masked on every read. */
export const SECRET_KEYS = new Set(["secret", "api_key", "app_secret", "verify_token"]);

const AgentType = Type.Union(
  AGENT_TYPES.map((t) => Type.Literal(t)),
  { description: "How Mimic talks to the agent" },
);
const AgentStatus = Type.Union(
  AGENT_STATUSES.map((s) => Type.Literal(s)),
  { description: "Inactive agents cannot start new sessions" },
);
const AgentConfig = Type.Record(Type.String(), Type.Unknown(), {
  description:
    "Depends on `type`: see WebhookAgentConfig, WebsocketAgentConfig, WhatsappAgentConfig, VoiceAgentConfig",
});

export const AgentSchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    name: Type.String(),
    type: AgentType,
    config: Type.Record(Type.String(), Type.Unknown(), {
      description: "The agent's config, secrets masked (`****7890`)",
    }),
    status: AgentStatus,
    createdAt: Timestamp(),
    updatedAt: Timestamp(),
  },
  { $id: "Agent" },
);

export const CreateAgentBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    type: AgentType,
    config: AgentConfig,
    status: Type.Optional(AgentStatus),
  },
  { additionalProperties: false, $id: "CreateAgentRequest" },
);

export const UpdateAgentBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    type: Type.Optional(AgentType),
    config: Type.Optional(AgentConfig),
    status: Type.Optional(AgentStatus),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    $id: "UpdateAgentRequest",
    description:
      "The fields to change. A new `config` replaces the old one; a secret sent back masked (`****7890`) keeps its stored value.",
  },
);

export const ListAgentsQuery = Type.Object(
  {
    ...PageQuery,
    type: Type.Optional(AgentType),
  },
  { additionalProperties: false },
);

export const AgentListSchema = listOf(AgentSchema, "AgentList");

export const agentSchemas = [
  WebhookAgentConfigSchema,
  WebsocketAgentConfigSchema,
  WhatsappAgentConfigSchema,
  VoiceAgentConfigSchema,
  AgentSchema,
  CreateAgentBody,
  UpdateAgentBody,
  AgentListSchema,
];
