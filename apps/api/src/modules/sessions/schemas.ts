import {
  SENDER_TYPES,
  SESSION_END_REASONS,
  SESSION_STATUSES,
  VOICE_FINDINGS,
  type VoiceMessageMeta,
} from "@mimic/db";
import { type Static, Type } from "@sinclair/typebox";
import { checkSchemas, checksSchema, SessionCheckSchema, SessionResultSchema } from "../../lib/checks.js";
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
      description:
        "Seconds from one persona message to the next, the agent's answer included (an agent slower than that is answered as soon as its reply is in)",
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
export const SessionEndReasonSchema = Type.Union(
  SESSION_END_REASONS.map((r) => Type.Literal(r)),
  {
    $id: "SessionEndReason",
    description:
      "Why a session ended. `goal_reached`, `persona_gave_up`, `message_limit`, `duration_limit` leave it completed; `agent_error`, `persona_error` failed; `stopped`, `persona_deleted`, `agent_deleted` stopped",
  },
);
const END_REASON = Type.Union([Type.Ref(SessionEndReasonSchema), Type.Null()], {
  description: "Why the session ended (null while it runs)",
});
const REASON_DETAIL = Type.Union([Type.String(), Type.Null()], {
  description: 'The end\'s detail, for people: "goal reached", "agent unreachable: no reply within 20 s" …',
});

export const VoiceMessageMetaSchema = Type.Object(
  {
    startMs: Type.Optional(
      Type.Number({
        description:
          "When the speech began, in ms on the call's clock (0 = the `start` frame); for the bot, when the caller heard it",
      }),
    ),
    endMs: Type.Optional(
      Type.Number({ description: "When the speech ended (a silent persona turn: equal to startMs)" }),
    ),
    firstAudioMs: Type.Optional(
      Type.Number({
        description:
          "Agent utterances: ms from the end of the persona's speech to the bot's first audio; negative = talked over",
      }),
    ),
    talkOver: Type.Optional(
      Type.Boolean({ description: "Agent utterances: the bot started while the persona was still talking" }),
    ),
    bargeIn: Type.Optional(
      Type.Object(
        {
          afterMs: Type.Number({ description: "The persona interrupted this many ms into the bot's speech" }),
          clearedAfterMs: Type.Union([Type.Number(), Type.Null()], {
            description: "The bot sent `clear` this many ms after the interruption (null: it kept talking)",
          }),
        },
        { description: "Agent utterances: the persona barged in" },
      ),
    ),
    dtmf: Type.Optional(Type.String({ description: "Persona turns: DTMF digits pressed" })),
    silent: Type.Optional(
      Type.Boolean({ description: "Persona turns: the persona stayed silent (tests the bot's re-prompt)" }),
    ),
    audio: Type.Optional(
      Type.Boolean({
        description: "The turn's audio is stored: GET /api/sessions/{id}/messages/{messageId}/audio",
      }),
    ),
    finding: Type.Optional(
      Type.Union(
        VOICE_FINDINGS.map((f) => Type.Literal(f)),
        { description: "System findings: what was wrong with the bot's stream (fails `voice_valid`)" },
      ),
    ),
  },
  { $id: "VoiceMessageMeta", description: "What a message was on a voice call" },
);

// The schema and @mimic/db's type describe the same metadata: a drift fails to compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// (Keys compared too: an optional field on one side only would still be assignable both ways.)
const sameVoiceMeta: Same<Static<typeof VoiceMessageMetaSchema>, VoiceMessageMeta> &
  Same<keyof Static<typeof VoiceMessageMetaSchema>, keyof VoiceMessageMeta> = true;
void sameVoiceMeta;

const MessageMetadataSchema = Type.Object(
  {
    whatsapp: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description:
          "WhatsApp: the message's type, interactive options or choice, template, media and status timeline",
      }),
    ),
    voice: Type.Optional(Type.Ref(VoiceMessageMetaSchema)),
  },
  {
    additionalProperties: true,
    description: "Channel detail, absent for most messages: `whatsapp` or `voice`",
  },
);

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
    metadata: Type.Optional(MessageMetadataSchema),
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
  endReason: END_REASON,
  reason: REASON_DETAIL,
  checks: Type.Array(Type.Ref(SessionCheckSchema), {
    description:
      "The checks this session runs: the persona's and the agent type's defaults (unless inheritChecks was false) plus its own",
  }),
  result: Type.Union([Type.Ref(SessionResultSchema), Type.Null()], {
    description:
      "The verdict, once the session has ended and its checks have run (stopped sessions get none)",
  }),
  groupId: Type.Union([Type.String({ format: "uuid" }), Type.Null()], {
    description: "Set for repeated runs",
  }),
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
    checks: Type.Optional(
      checksSchema(
        "What the finished session must satisfy, on top of the persona's defaults (goal_reached when it has a goal, all_answered, and its own checks) and the agent type's (whatsapp_valid, voice_valid); identical checks run once. Voice checks (voice_valid, first_audio_within, no_long_silence) need a voice agent; a persona's are left out for other agents",
      ),
    ),
    inheritChecks: Type.Optional(
      Type.Boolean({
        description:
          "Default true: the persona's defaults run too. false: only this session's own checks run",
      }),
    ),
    repeat: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 20,
        description:
          "Runs in total: more than 1 starts that many identical runs as one group (see GET /api/session-groups/{id}); the first is returned",
      }),
    ),
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
    endReason: END_REASON,
    reason: REASON_DETAIL,
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
    timestamp: Type.Optional(
      Type.String({
        format: "date-time",
        description: "When it was said (recording a real conversation); default now",
      }),
    ),
  },
  { additionalProperties: false, $id: "CreateMessageRequest" },
);

export const BatchMessagesBody = Type.Object(
  { messages: Type.Array(Type.Ref(CreateMessageBody), { minItems: 1, maxItems: 500 }) },
  { additionalProperties: false, $id: "BatchMessagesRequest" },
);

export const BatchMessagesResultSchema = Type.Object(
  {
    data: Type.Array(Type.Ref(MessageSchema), { description: "Every message of the batch, in order" }),
    created: Type.Integer({ description: "How many were new (the rest had ids already stored)" }),
  },
  { $id: "BatchMessagesResult" },
);

export const MessageListSchema = listOf(MessageSchema, "MessageList");

export const MessageAudioParams = Type.Object({
  id: Type.String({ description: "Session id (UUID)" }),
  messageId: Type.String({
    description: "Message id (UUID); a malformed one answers 404 like an unknown one",
  }),
});

export const ListMessagesQuery = Type.Object(
  { ...PageQuery, senderType: Type.Optional(SENDER_TYPE) },
  { additionalProperties: false },
);

export const UpdateSessionBody = Type.Object(
  {
    metadata: Type.Record(Type.String(), Type.Unknown(), {
      description: "Merged into the session's metadata; a key set to null is removed",
    }),
  },
  { additionalProperties: false, $id: "UpdateSessionRequest" },
);

const SearchText = Type.String({
  minLength: 1,
  maxLength: 200,
  description: 'Words, "quoted phrases", -excluded, or',
});

export const SessionSearchQuery = Type.Object(
  { q: SearchText, ...PageQuery },
  { additionalProperties: false },
);

export const GlobalSearchQuery = Type.Object(
  {
    q: SearchText,
    ...PageQuery,
    agentId: Type.Optional(Type.String()),
    personaId: Type.Optional(Type.String()),
    from: Type.Optional(Type.String({ format: "date-time", description: "Messages at or after" })),
    to: Type.Optional(Type.String({ format: "date-time", description: "Messages before" })),
  },
  { additionalProperties: false },
);

export const SearchHitSchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    sessionId: Type.String({ format: "uuid" }),
    senderType: SENDER_TYPE,
    content: Type.String(),
    timestamp: Timestamp(),
    rank: Type.Number({ description: "Relevance (higher is better)" }),
    highlight: Type.String({ description: "HTML-escaped excerpt with matches wrapped in <mark>…</mark>" }),
  },
  { $id: "SearchHit" },
);

export const SearchResultSchema = Type.Object(
  {
    query: Type.String(),
    results: Type.Array(Type.Ref(SearchHitSchema), { description: "Best first" }),
    count: Type.Integer({ description: "Matches in all, over all pages" }),
  },
  { $id: "SearchResult" },
);

export const EXPORT_FORMATS = ["json", "markdown", "jsonl"] as const;
export const ExportQuery = Type.Object(
  {
    format: Type.Union(
      EXPORT_FORMATS.map((f) => Type.Literal(f)),
      { default: "json" },
    ),
  },
  { additionalProperties: false },
);

const Latency = Type.Union([Type.Number(), Type.Null()]);
export const SessionStatsSchema = Type.Object(
  {
    sessionId: Type.String({ format: "uuid" }),
    status: SESSION_STATUS,
    messageCount: Type.Integer({ description: "Persona and agent messages" }),
    bySender: Type.Object({ persona: Type.Integer(), agent: Type.Integer(), system: Type.Integer() }),
    replyLatency: Type.Object(
      { count: Type.Integer(), p50: Latency, p95: Latency, max: Latency, mean: Latency },
      { description: "Agent reply latency in ms (null without replies)" },
    ),
    durationSeconds: Type.Union([Type.Number(), Type.Null()], {
      description: "Start to end (or to now while running)",
    }),
    usage: Type.Object({ promptTokens: Type.Integer(), completionTokens: Type.Integer() }),
    result: Type.Union([Type.Ref(SessionResultSchema), Type.Null()]),
  },
  { $id: "SessionStats" },
);

export const RepeatQuery = Type.Object(
  {
    times: Type.Integer({
      minimum: 1,
      maximum: 20,
      description: "Runs in total: a new group of this many runs like the session",
    }),
  },
  { additionalProperties: false },
);

export const SessionGroupSchema = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    total: Type.Integer(),
    finished: Type.Integer({ description: "Runs with a verdict" }),
    passed: Type.Integer(),
    passRate: Type.Union([Type.Number(), Type.Null()], { description: "passed / finished" }),
    passHatK: Type.Array(Type.Object({ k: Type.Integer(), value: Type.Number() }), {
      description: "pass^k: the estimated chance that k runs in a row all pass, C(passed,k)/C(finished,k)",
    }),
    runs: Type.Array(
      Type.Object({
        sessionId: Type.String({ format: "uuid" }),
        status: SESSION_STATUS,
        endReason: END_REASON,
        reason: REASON_DETAIL,
        passed: Type.Union([Type.Boolean(), Type.Null()], {
          description: "null until the run has a verdict",
        }),
      }),
    ),
  },
  { $id: "SessionGroup" },
);

export const sessionSchemas = [
  ...checkSchemas,
  SessionEndReasonSchema,
  SessionConfigSchema,
  VoiceMessageMetaSchema,
  MessageSchema,
  SessionSchema,
  SessionDetailSchema,
  SessionListSchema,
  CreateSessionBody,
  StoppedSessionSchema,
  CreateMessageBody,
  BatchMessagesBody,
  BatchMessagesResultSchema,
  MessageListSchema,
  UpdateSessionBody,
  SearchHitSchema,
  SearchResultSchema,
  SessionStatsSchema,
  SessionGroupSchema,
];

// Live events (GET /api/ws). Not routes, but components: the SDK's subscribe() takes its types from here.
const eventBase = { sessionId: Type.String({ format: "uuid" }) };
/** Session events are numbered per session: resubscribe with `afterSeq` to get what came after the last one seen. */
const seqField = {
  seq: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: "The event's number in its session (increasing); a snapshot carries the latest",
    }),
  ),
};

export const SessionUpdateEventSchema = Type.Object(
  {
    type: Type.Literal("session_update"),
    ...eventBase,
    ...seqField,
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
    ...seqField,
    data: Type.Object({
      id: Type.String({ format: "uuid" }),
      senderType: SENDER_TYPE,
      content: Type.String(),
      timestamp: Timestamp(),
      latencyMs: Type.Union([Type.Integer(), Type.Null()]),
      metadata: Type.Optional(MessageMetadataSchema),
    }),
  },
  { $id: "NewMessageEvent" },
);

export const SessionEndEventSchema = Type.Object(
  {
    type: Type.Literal("session_end"),
    ...eventBase,
    ...seqField,
    data: Type.Object({
      reason: Type.String({ description: "The end's detail, for people" }),
      endReason: END_REASON,
      status: SESSION_STATUS,
      duration: Type.Integer({ description: "Seconds from start to end" }),
      messageCount: Type.Integer(),
      result: Type.Optional(
        Type.Ref(SessionResultSchema, {
          description: "The verdict (completed and failed sessions; stopped ones get none)",
        }),
      ),
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

// What a client sends on /api/ws. The AsyncAPI document (/asyncapi.json) is generated from these and the events.
export const SubscribeMessageSchema = Type.Object(
  {
    type: Type.Literal("subscribe"),
    sessionId: Type.String({ format: "uuid", description: "A session of yours" }),
    afterSeq: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: "Resume: the seq of the last event you saw; the events after it are sent first",
      }),
    ),
  },
  {
    $id: "SubscribeMessage",
    description: "Start receiving a session's events (answered by `subscribed` or `error`)",
  },
);

export const UnsubscribeMessageSchema = Type.Object(
  { type: Type.Literal("unsubscribe"), sessionId: Type.String({ format: "uuid" }) },
  {
    $id: "UnsubscribeMessage",
    description: "Stop receiving a session's events (answered by `unsubscribed`)",
  },
);

export const LiveClientMessageSchema = Type.Union(
  [Type.Ref(SubscribeMessageSchema), Type.Ref(UnsubscribeMessageSchema)],
  { $id: "LiveClientMessage", description: "Any message a client sends on /api/ws" },
);

export const liveEventSchemas = [
  SessionUpdateEventSchema,
  NewMessageEventSchema,
  SessionEndEventSchema,
  SubscriptionEventSchema,
  LiveErrorEventSchema,
  LiveEventSchema,
  SubscribeMessageSchema,
  UnsubscribeMessageSchema,
  LiveClientMessageSchema,
];
