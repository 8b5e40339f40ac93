import { type FastifyPluginAsyncTypebox, Type } from "@fastify/type-provider-typebox";
import type { MimicDb } from "@mimic/db";
import { AppError } from "../../errors.js";
import { errorResponse, IdParams, PageQuery } from "../../lib/schemas.js";
import { userOf } from "../../plugins/auth.js";
import { ApiKeyListSchema, CreateApiKeyBody, CreatedApiKeySchema } from "./schemas.js";
import { createApiKey, listApiKeys, revokeApiKey } from "./service.js";

/** A key could otherwise mint a longer-lived key that outlives its own expiry or revocation. */
const apiKeyCannotCreate = () =>
  new AppError("AUTHORIZATION_ERROR", "API keys cannot create API keys; use a login token");

export const apiKeyRoutes: FastifyPluginAsyncTypebox<{ db: MimicDb }> = async (app, { db }) => {
  app.post(
    "/",
    {
      schema: {
        operationId: "createApiKey",
        tags: ["apiKeys"],
        summary: "Create an API key (the key is returned once)",
        description:
          "Needs a login token: an API key cannot create keys, so a leaked key cannot mint a longer-lived one that survives its revocation.",
        body: Type.Ref(CreateApiKeyBody),
        response: {
          201: Type.Ref(CreatedApiKeySchema),
          403: errorResponse("API keys cannot create API keys; use a login token"),
        },
      },
    },
    async (request, reply) => {
      if (request.auth?.via === "api_key") throw apiKeyCannotCreate();
      return reply.status(201).send(await createApiKey(db.db, userOf(request).id, request.body));
    },
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
      const userId = userOf(request).id;
      await revokeApiKey(db.db, userId, request.params.id);
      // At once in this process; the others hear it from the database.
      app.forgetCredentials(userId);
      return reply.status(204).send(null);
    },
  );
};
