import { type FastifyPluginAsyncTypebox, Type } from "@fastify/type-provider-typebox";
import type { MimicDb } from "@mimic/db";
import { IdParams } from "../../lib/schemas.js";
import { userOf } from "../../plugins/auth.js";
import {
  AgentAnalyticsQuery,
  AgentAnalyticsSchema,
  AnalyticsQuery,
  SessionAnalyticsSchema,
} from "./schemas.js";
import { agentAnalytics, sessionAnalytics } from "./service.js";

export const analyticsRoutes: FastifyPluginAsyncTypebox<{ db: MimicDb }> = async (app, { db }) => {
  app.get(
    "/sessions",
    {
      config: { sdk: { method: "sessions" } },
      schema: {
        operationId: "getSessionAnalytics",
        tags: ["analytics"],
        summary: "Your sessions over a range of UTC days: totals, success rate and a row per day",
        querystring: AnalyticsQuery,
        response: { 200: Type.Ref(SessionAnalyticsSchema) },
      },
    },
    async (request) => sessionAnalytics(db.db, userOf(request).id, request.query),
  );

  app.get(
    "/agents/:id",
    {
      config: { sdk: { method: "agent" } },
      schema: {
        operationId: "getAgentAnalytics",
        tags: ["analytics"],
        summary:
          "One agent's performance: success rate, reply latency, failure reasons, messages per session, per day",
        params: IdParams,
        querystring: AgentAnalyticsQuery,
        response: { 200: Type.Ref(AgentAnalyticsSchema) },
      },
    },
    async (request) => agentAnalytics(db.db, userOf(request).id, request.params.id, request.query),
  );
};
