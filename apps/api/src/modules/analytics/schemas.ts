import { Type } from "@sinclair/typebox";
import { SessionEndReasonSchema } from "../sessions/schemas.js";

const DateString = (description: string) => Type.String({ format: "date", description });

export const AnalyticsQuery = Type.Object(
  {
    startDate: Type.Optional(DateString("First UTC day, YYYY-MM-DD (default: 29 days before endDate)")),
    endDate: Type.Optional(DateString("Last UTC day, inclusive (default: today)")),
    agentId: Type.Optional(Type.String()),
    personaId: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export const AgentAnalyticsQuery = Type.Object(
  {
    startDate: Type.Optional(DateString("First UTC day, YYYY-MM-DD (default: 29 days before endDate)")),
    endDate: Type.Optional(DateString("Last UTC day, inclusive (default: today)")),
  },
  { additionalProperties: false },
);

const Ratio = Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], {
  description: "passed / sessions with a verdict; null when none has one",
});
const Seconds = Type.Union([Type.Integer(), Type.Null()], {
  description: "Seconds; null without finished sessions",
});

export const DailyStatSchema = Type.Object(
  {
    date: Type.String({ format: "date" }),
    sessions: Type.Integer(),
    messages: Type.Integer(),
    avgDuration: Seconds,
  },
  { $id: "DailyStat" },
);

export const SessionAnalyticsSchema = Type.Object(
  {
    totalSessions: Type.Integer(),
    activeSessions: Type.Integer({ description: "pending or active" }),
    completedSessions: Type.Integer(),
    failedSessions: Type.Integer(),
    averageDuration: Seconds,
    totalMessages: Type.Integer({ description: "Persona and agent messages" }),
    successRate: Ratio,
    dailyStats: Type.Array(Type.Ref(DailyStatSchema), {
      description: "Every day of the range, zeros included",
    }),
  },
  { $id: "SessionAnalytics" },
);

const Latency = Type.Union([Type.Number(), Type.Null()]);

export const AgentAnalyticsSchema = Type.Object(
  {
    agentId: Type.String({ format: "uuid" }),
    name: Type.String(),
    type: Type.String(),
    startDate: Type.String({ format: "date" }),
    endDate: Type.String({ format: "date" }),
    totalSessions: Type.Integer(),
    activeSessions: Type.Integer(),
    completedSessions: Type.Integer(),
    failedSessions: Type.Integer(),
    stoppedSessions: Type.Integer(),
    averageDuration: Seconds,
    successRate: Ratio,
    messagesPerSession: Type.Union([Type.Number(), Type.Null()]),
    replyLatency: Type.Object(
      { count: Type.Integer(), p50: Latency, p95: Latency, max: Latency },
      { description: "The agent's reply latency in ms over the range" },
    ),
    failureReasons: Type.Array(
      Type.Object({
        endReason: Type.Ref(SessionEndReasonSchema),
        count: Type.Integer(),
        reason: Type.Union([Type.String(), Type.Null()], { description: "The most frequent detail" }),
      }),
      { description: "How sessions that failed or did not pass ended, by end reason, most frequent first" },
    ),
    dailyStats: Type.Array(Type.Ref(DailyStatSchema)),
  },
  { $id: "AgentAnalytics" },
);

export const analyticsSchemas = [DailyStatSchema, SessionAnalyticsSchema, AgentAnalyticsSchema];
