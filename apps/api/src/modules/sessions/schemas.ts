import { SENDER_TYPES, SESSION_STATUSES } from "@mimic/db";
import { Type } from "@sinclair/typebox";
import { listOf, PageQuery, Timestamp } from "../../lib/schemas.js";

export const SessionConfigSchema = Type.Object(
  {
    duration: Type.Number({
      minimum: 1,
      maximum: 86_400,
      description: "Seconds after which the session completes",
    }),
    maxMessages: Type.Integer({
      minimum: 1,
      maximum: 1000,
      description: "Persona + agent messages after which it completes",
    }),
    messageInterval: Type.Number({
      minimum: 0,
      maximum: 3600,
      description: "Seconds between the persona's messages",
    }),
    replyTimeout: Type.Number({
      minimum: 0.1,
      maximum: 600,
      description: "Seconds to wait for the agent's replies to each persona message",
    }),
  },
  { additionalProperties: false, $id: "SessionConfig" },
);

export const SENDER_TYPE = Type.Union(
  SENDER_TYPES.map((t) => Type.Literal(t)),
  {
    description:
      "`persona` (the simulated customer), `agent` (the bot under test) or `system` (Mimic's notes)",
  },
);
export const SESSION_STATUS = Type.Union(SESSION_STATUSES.map((s) => Type.Literal(s)));

export const MessageSchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    sessionId: Type.String({ format: "uuid" }),
    senderType: SENDER_TYPE,
    content: Type.String(),
    timestamp: Timestamp(),
    latencyMs: Type.Union([Type.Integer(), Type.Null()], {
      description: "Agent replies: milliseconds since the persona message they answer",
    }),
  },
  { $id: "Message" },
);

const MetadataSchema = Type.Record(Type.String(), Type.Unknown(), {
  description:
    "Your own JSON (≤ 16 KiB). Responses add `startTime` and `messageCount`, which are computed and cannot be set.",
});

const sessionFields = {
  id: Type.String({ format: "uuid" }),
  agentId: Type.String({ format: "uuid" }),
  personaId: Type.String({ format: "uuid" }),
  status: SESSION_STATUS,
  config: Type.Ref(SessionConfigSchema),
  metadata: MetadataSchema,
  reason: Type.Union([Type.String(), Type.Null()], { description: "Why the session ended" }),
  usage: Type.Object(
    { promptTokens: Type.Integer(), completionTokens: Type.Integer() },
    { description: "Tokens spent by an LLM persona" },
  ),
  startedAt: Type.Union([Timestamp(), Type.Null()]),
  endedAt: Type.Union([Timestamp(), Type.Null()]),
  createdAt: Timestamp(),
  updatedAt: Timestamp(),
};

export const SessionSchema = Type.Object(sessionFields, { $id: "Session" });

export const SessionDetailSchema = Type.Object(
  {
    ...sessionFields,
    messages: Type.Array(Type.Ref(MessageSchema), {
      description: "The transcript, oldest first (first 1000 messages)",
    }),
  },
  { $id: "SessionDetail" },
);

export const SessionListSchema = listOf(SessionSchema, "SessionList");

export const CreateSessionBody = Type.Object(
  {
    agentId: Type.String({ minLength: 1, description: "An agent of yours" }),
    personaId: Type.String({ minLength: 1, description: "A persona of yours" }),
    config: Type.Optional(
      Type.Partial(SessionConfigSchema, {
        additionalProperties: false,
        description:
          "Defaults: the persona's config, then 300 s, 50 messages, 5 s interval, 30 s reply timeout",
      }),
    ),
    metadata: Type.Optional(MetadataSchema),
  },
  { additionalProperties: false, $id: "CreateSessionRequest" },
);

export const ListSessionsQuery = Type.Object(
  {
    ...PageQuery,
    status: Type.Optional(SESSION_STATUS),
    agentId: Type.Optional(Type.String()),
    personaId: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const StoppedSessionSchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    status: SESSION_STATUS,
    reason: Type.Union([Type.String(), Type.Null()]),
    updatedAt: Timestamp(),
  },
  { $id: "StoppedSession" },
);

export const CreateMessageBody = Type.Object(
  {
    id: Type.Optional(
      Type.String({
        format: "uuid",
        description: "Your id for the message: sending the same id twice stores it once",
      }),
    ),
    senderType: SENDER_TYPE,
    content: Type.String({ minLength: 1, maxLength: 32_768 }),
  },
  { additionalProperties: false, $id: "CreateMessageRequest" },
);

export const sessionSchemas = [
  SessionConfigSchema,
  MessageSchema,
  SessionSchema,
  SessionDetailSchema,
  SessionListSchema,
  CreateSessionBody,
  StoppedSessionSchema,
  CreateMessageBody,
];

// Live events (GET /api/ws). Not routes, but components: the SDK's subscribe() takes its types from here.
const eventBase = { sessionId: Type.String({ format: "uuid" }) };

export const SessionUpdateEventSchema = Type.Object(
  {
    type: Type.Literal("session_update"),
    ...eventBase,
    data: Type.Object({
      status: SESSION_STATUS,
      messageCount: Type.Integer(),
      lastMessage: Type.Union([Timestamp(), Type.Null()], { description: "Time of the latest message" }),
    }),
  },
  { $id: "SessionUpdateEvent" },
);

export const NewMessageEventSchema = Type.Object(
  {
    type: Type.Literal("new_message"),
    ...eventBase,
    data: Type.Object({
      id: Type.String({ format: "uuid" }),
      senderType: SENDER_TYPE,
      content: Type.String(),
      timestamp: Timestamp(),
      latencyMs: Type.Union([Type.Integer(), Type.Null()]),
    }),
  },
  { $id: "NewMessageEvent" },
);

export const SessionEndEventSchema = Type.Object(
  {
    type: Type.Literal("session_end"),
    ...eventBase,
    data: Type.Object({
      reason: Type.String(),
      status: SESSION_STATUS,
      duration: Type.Integer({ description: "Seconds from start to end" }),
      messageCount: Type.Integer(),
      result: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: "SessionEndEvent" },
);

export const SubscriptionEventSchema = Type.Object(
  { type: Type.Union([Type.Literal("subscribed"), Type.Literal("unsubscribed")]), ...eventBase },
  { $id: "SubscriptionEvent" },
);

export const LiveErrorEventSchema = Type.Object(
  {
    type: Type.Literal("error"),
    sessionId: Type.Optional(Type.String()),
    error: Type.Object({ code: Type.String(), message: Type.String() }),
  },
  { $id: "LiveErrorEvent" },
);

export const LiveEventSchema = Type.Union(
  [
    Type.Ref(SessionUpdateEventSchema),
    Type.Ref(NewMessageEventSchema),
    Type.Ref(SessionEndEventSchema),
    Type.Ref(SubscriptionEventSchema),
    Type.Ref(LiveErrorEventSchema),
  ],
  { $id: "LiveEvent", description: "Any message the server sends on /api/ws" },
);

export const liveEventSchemas = [
  SessionUpdateEventSchema,
  NewMessageEventSchema,
  SessionEndEventSchema,
  SubscriptionEventSchema,
  LiveErrorEventSchema,
  LiveEventSchema,
];
