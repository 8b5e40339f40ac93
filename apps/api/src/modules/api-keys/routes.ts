import { type FastifyPluginAsyncTypebox, Type } from "@fastify/type-provider-typebox";
import type { MimicDb } from "@mimic/db";
import { IdParams, PageQuery } from "../../lib/schemas.js";
import { userOf } from "../../plugins/auth.js";
import { ApiKeyListSchema, CreateApiKeyBody, CreatedApiKeySchema } from "./schemas.js";
import { createApiKey, listApiKeys, revokeApiKey } from "./service.js";

export const apiKeyRoutes: FastifyPluginAsyncTypebox<{ db: MimicDb }> = async (app, { db }) => {
  app.post(
    "/",
    {
      schema: {
        operationId: "createApiKey",
        tags: ["apiKeys"],
        summary: "Create an API key (the key is returned once)",
        body: Type.Ref(CreateApiKeyBody),
        response: { 201: Type.Ref(CreatedApiKeySchema) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await createApiKey(db.db, userOf(request).id, request.body)),
  );

  app.get(
    "/",
    {
      schema: {
        operationId: "listApiKeys",
        tags: ["apiKeys"],
        summary: "List your API keys (without the secrets)",
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: Type.Ref(ApiKeyListSchema) },
      },
    },
    async (request) => listApiKeys(db.db, userOf(request).id, request.query),
  );

  app.delete(
    "/:id",
    {
      schema: {
        operationId: "revokeApiKey",
        tags: ["apiKeys"],
        summary: "Revoke an API key; it stops working at once",
        params: IdParams,
        response: { 204: Type.Null({ description: "Revoked" }) },
      },
    },
    async (request, reply) => {
      await revokeApiKey(db.db, userOf(request).id, request.params.id);
      return reply.status(204).send(null);
    },
  );
};
