import { type FastifyPluginAsyncTypebox, Type } from "@fastify/type-provider-typebox";
import type { MimicDb } from "@mimic/db";
import type { Config } from "../../config.js";
import { llmAvailability } from "../../lib/checks.js";
import { IdParams } from "../../lib/schemas.js";
import { userOf } from "../../plugins/auth.js";
import {
  CreatePersonaBody,
  ListPersonasQuery,
  PersonaListSchema,
  PersonaSchema,
  UpdatePersonaBody,
} from "./schemas.js";
import { createPersona, deletePersona, getPersona, listPersonas, updatePersona } from "./service.js";

export const personaRoutes: FastifyPluginAsyncTypebox<{ db: MimicDb; config: Config }> = async (
  app,
  { db, config },
) => {
  const tags = ["personas"];
  const options = llmAvailability(config);

  app.post(
    "/",
    {
      schema: {
        operationId: "createPersona",
        tags,
        summary: "Create a persona",
        body: Type.Ref(CreatePersonaBody),
        response: { 201: Type.Ref(PersonaSchema) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await createPersona(db.db, userOf(request).id, request.body, options)),
  );

  app.get(
    "/",
    {
      schema: {
        operationId: "listPersonas",
        tags,
        summary: "List your personas, newest first",
        querystring: ListPersonasQuery,
        response: { 200: Type.Ref(PersonaListSchema) },
      },
    },
    async (request) => listPersonas(db.db, userOf(request).id, request.query),
  );

  app.get(
    "/:id",
    {
      schema: {
        operationId: "getPersona",
        tags,
        summary: "Get a persona",
        params: IdParams,
        response: { 200: Type.Ref(PersonaSchema) },
      },
    },
    async (request) => getPersona(db.db, userOf(request).id, request.params.id),
  );

  app.put(
    "/:id",
    {
      schema: {
        operationId: "updatePersona",
        tags,
        summary: "Update a persona (fields left out keep their value)",
        params: IdParams,
        body: Type.Ref(UpdatePersonaBody),
        response: { 200: Type.Ref(PersonaSchema) },
      },
    },
    async (request) => updatePersona(db.db, userOf(request).id, request.params.id, request.body, options),
  );

  app.delete(
    "/:id",
    {
      schema: {
        operationId: "deletePersona",
        tags,
        summary: "Delete a persona; its running sessions stop, past sessions stay readable",
        params: IdParams,
        response: { 204: Type.Null({ description: "Deleted" }) },
      },
    },
    async (request, reply) => {
      await deletePersona(db.db, userOf(request).id, request.params.id);
      return reply.status(204).send(null);
    },
  );
};
