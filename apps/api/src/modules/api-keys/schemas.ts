import { Type } from "@sinclair/typebox";
import { listOf, Timestamp } from "../../lib/schemas.js";

const apiKeyFields = {
  id: Type.String({ format: "uuid" }),
  name: Type.String(),
  prefix: Type.String({ description: "The key's first characters, to tell keys apart" }),
  createdAt: Timestamp(),
  lastUsedAt: Type.Union([Timestamp(), Type.Null()]),
  expiresAt: Type.Union([Timestamp(), Type.Null()]),
};

export const ApiKeySchema = Type.Object(apiKeyFields, { $id: "ApiKey" });

export const CreatedApiKeySchema = Type.Object(
  { ...apiKeyFields, key: Type.String({ description: "The secret key. Shown only in this response." }) },
  { $id: "CreatedApiKey" },
);

export const CreateApiKeyBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 100,
      description: "What the key is for, e.g. `github-actions`",
    }),
    expiresInDays: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 3650, description: "Never expires if omitted" }),
    ),
  },
  { additionalProperties: false, $id: "CreateApiKeyRequest" },
);

export const ApiKeyListSchema = listOf(ApiKeySchema, "ApiKeyList");

export const apiKeySchemas = [ApiKeySchema, CreatedApiKeySchema, CreateApiKeyBody, ApiKeyListSchema];
