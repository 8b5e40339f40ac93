import { type FastifyPluginAsyncTypebox, Type } from "@fastify/type-provider-typebox";
import type { MimicDb } from "@mimic/db";
import { userOf } from "../../plugins/auth.js";
import { GlobalSearchQuery, SearchResultSchema } from "../sessions/schemas.js";
import { searchAll } from "../sessions/transcript.js";

export const searchRoutes: FastifyPluginAsyncTypebox<{ db: MimicDb }> = async (app, { db }) => {
  app.get(
    "/",
    {
      config: { sdk: { resource: "search", method: "messages" } },
      schema: {
        operationId: "searchMessages",
        tags: ["sessions"],
        summary: "Full-text search across all your sessions (filters: agentId, personaId, from, to)",
        querystring: GlobalSearchQuery,
        response: { 200: Type.Ref(SearchResultSchema) },
      },
    },
    async (request) => searchAll(db.db, userOf(request).id, request.query.q, request.query),
  );
};
