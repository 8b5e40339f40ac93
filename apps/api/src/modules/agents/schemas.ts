import {
  AGENT_STATUSES,
  AGENT_TYPES,
  type AgentConfig,
  type AgentStatus as AgentStatusValue,
  type TypedAgentConfig,
  type VoiceAgentConfig,
  type WebhookAgentConfig,
  type WebsocketAgentConfig,
  type WhatsappAgentConfig,
} from "@mimic/db";
import { type Static, Type } from "@sinclair/typebox";
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
    description:
      "Extra headers sent to the agent. Write-only values: responses mask them. Transport headers (Host, Content-Length, Content-Type, Connection, Transfer-Encoding, Upgrade …), Mimic-Signature, X-Mimic-*, and Authorization when `api_key` is set are refused.",
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
    waba_id: Type.Optional(
      Type.String({
        pattern: "^[0-9]{1,32}$",
        description:
          "WhatsApp Business Account id, sent as `entry[].id` in webhooks (default: one derived from the agent)",
      }),
    ),
  },
  { additionalProperties: false, $id: "WhatsappAgentConfig" },
);

export const VoiceAgentConfigSchema = Type.Object(
  {
    phone_number: Type.Optional(
      Type.String({ pattern: "^\\+[1-9][0-9]{6,14}$", description: "Number to call, E.164" }),
    ),
    url: Type.Optional(
      Type.String({
        format: "uri",
        pattern: "^(https?|wss?)://",
        maxLength: 2048,
        description:
          "The bot's Twilio Media Streams WebSocket (ws:// or wss://): Mimic calls it as Twilio would",
      }),
    ),
    api_key: Type.Optional(
      Secret("Credential for the voice endpoint, sent as `Authorization: Bearer …` when Mimic connects"),
    ),
    custom_parameters: Type.Optional(
      Type.Record(Type.String({ pattern: "^[A-Za-z0-9_.-]{1,64}$" }), Type.String({ maxLength: 500 }), {
        maxProperties: 20,
        description: "Sent to the bot as `start.customParameters`, like a TwiML `<Stream>`'s `<Parameter>`s",
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1, $id: "VoiceAgentConfig" },
);

export const AGENT_CONFIG_SCHEMAS = {
  webhook: WebhookAgentConfigSchema,
  websocket: WebsocketAgentConfigSchema,
  whatsapp: WhatsappAgentConfigSchema,
  voice: VoiceAgentConfigSchema,
} as const;

// The TypeBox schemas above and @mimic/db's column types describe the same configs: a drift fails to compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameConfigs: Same<Static<typeof WebhookAgentConfigSchema>, WebhookAgentConfig> &
  Same<Static<typeof WebsocketAgentConfigSchema>, WebsocketAgentConfig> &
  Same<Static<typeof WhatsappAgentConfigSchema>, WhatsappAgentConfig> &
  Same<Static<typeof VoiceAgentConfigSchema>, VoiceAgentConfig> = true;
void sameConfigs;

const AgentType = Type.Union(
  AGENT_TYPES.map((t) => Type.Literal(t)),
  { description: "How Mimic talks to the agent" },
);
const AgentStatus = Type.Union(
  AGENT_STATUSES.map((s) => Type.Literal(s)),
  { description: "Inactive agents cannot start new sessions" },
);

/**
 * `{type, config}` pairs, one per agent type, for a `oneOf` keyed on `type`: the object that carries them lists
 * every field, and each branch binds `config` to the schema of its `type`.
 */
const byType = () =>
  AGENT_TYPES.map((type) =>
    Type.Object({ type: Type.Literal(type), config: Type.Ref(AGENT_CONFIG_SCHEMAS[type]) }),
  );
const keyedByType = () => ({ oneOf: byType(), discriminator: { propertyName: "type" } });

/** Any agent config; which one applies depends on the agent's `type` (PUT may leave `type` out). */
export const AgentConfigSchema = Type.Unsafe<AgentConfig>({
  $id: "AgentConfig",
  anyOf: AGENT_TYPES.map((type) => Type.Ref(AGENT_CONFIG_SCHEMAS[type])),
  description:
    "The config of the agent's `type`: WebhookAgentConfig, WebsocketAgentConfig, WhatsappAgentConfig or VoiceAgentConfig",
});

export const AgentSchema = Type.Unsafe<
  {
    id: string;
    name: string;
    status: AgentStatusValue;
    createdAt: Date | string;
    updatedAt: Date | string;
  } & TypedAgentConfig
>(
  // `type` and `config` (secrets masked, `****7890`) come from the branch of the agent's type.
  Type.Object(
    {
      id: Type.String({ format: "uuid" }),
      name: Type.String(),
      status: AgentStatus,
      createdAt: Timestamp(),
      updatedAt: Timestamp(),
    },
    { $id: "Agent", ...keyedByType() },
  ),
);

export const CreateAgentBody = Type.Unsafe<
  { name: string; status?: AgentStatusValue | undefined } & TypedAgentConfig
>(
  Type.Object(
    {
      name: Type.String({ minLength: 1, maxLength: 200 }),
      type: AgentType,
      config: Type.Unknown({
        description:
          "Depends on `type`: WebhookAgentConfig, WebsocketAgentConfig, WhatsappAgentConfig or VoiceAgentConfig",
      }),
      status: Type.Optional(AgentStatus),
    },
    { additionalProperties: false, $id: "CreateAgentRequest", ...keyedByType() },
  ),
);

const updateFields = {
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  type: Type.Optional(AgentType),
  status: Type.Optional(AgentStatus),
};
const updateOptions = {
  additionalProperties: false,
  minProperties: 1,
  description:
    "The fields to change. A new `config` replaces the old one and must fit the agent's type (the new `type` when it changes). A secret sent back masked (`****7890`) keeps its stored value, unless the config's URL now points at another host (scheme, host or port): then secrets must be sent again.",
};

export const UpdateAgentBody = Type.Object(
  { ...updateFields, config: Type.Optional(Type.Ref(AgentConfigSchema)) },
  { ...updateOptions, $id: "UpdateAgentRequest" },
);

/**
 * What PUT validates before the service: everything but `config`, which fits the type that applies (stored, or
 * changed in the same request), something only the service knows; it names the offending `config.<field>` then.
 */
export const UpdateAgentEnvelope = Type.Object(
  { ...updateFields, config: Type.Optional(Type.Object({})) },
  updateOptions,
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
  AgentConfigSchema,
  AgentSchema,
  CreateAgentBody,
  UpdateAgentBody,
  AgentListSchema,
];
