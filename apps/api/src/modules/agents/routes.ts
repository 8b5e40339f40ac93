import { type FastifyPluginAsyncTypebox, Type } from "@fastify/type-provider-typebox";
import type { MimicDb } from "@mimic/db";
import type { Config } from "../../config.js";
import { IdParams } from "../../lib/schemas.js";
import { userOf } from "../../plugins/auth.js";
import {
  AgentListSchema,
  AgentSchema,
  CreateAgentBody,
  ListAgentsQuery,
  UpdateAgentBody,
} from "./schemas.js";
import { createAgent, deleteAgent, getAgent, listAgents, updateAgent } from "./service.js";

export const agentRoutes: FastifyPluginAsyncTypebox<{ db: MimicDb; config: Config }> = async (
  app,
  { db, config },
) => {
  const tags = ["agents"];
  const policy = { allowPrivateTargets: config.allowPrivateTargets };

  app.post(
    "/",
    {
      schema: {
        operationId: "createAgent",
        tags,
        summary: "Register an agent (the bot under test)",
        body: Type.Ref(CreateAgentBody),
        response: { 201: Type.Ref(AgentSchema) },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await createAgent(db.db, userOf(request).id, request.body, policy)),
  );

  app.get(
    "/",
    {
      schema: {
        operationId: "listAgents",
        tags,
        summary: "List your agents, newest first",
        querystring: ListAgentsQuery,
        response: { 200: Type.Ref(AgentListSchema) },
      },
    },
    async (request) => listAgents(db.db, userOf(request).id, request.query),
  );

  app.get(
    "/:id",
    {
      schema: {
        operationId: "getAgent",
        tags,
        summary: "Get an agent (secrets masked)",
        params: IdParams,
        response: { 200: Type.Ref(AgentSchema) },
      },
    },
    async (request) => getAgent(db.db, userOf(request).id, request.params.id),
  );

  app.put(
    "/:id",
    {
      schema: {
        operationId: "updateAgent",
        tags,
        summary: "Update an agent (fields left out keep their value)",
        params: IdParams,
        body: Type.Ref(UpdateAgentBody),
        response: { 200: Type.Ref(AgentSchema) },
      },
    },
    async (request) => updateAgent(db.db, userOf(request).id, request.params.id, request.body, policy),
  );

  app.delete(
    "/:id",
    {
      schema: {
        operationId: "deleteAgent",
        tags,
        summary: "Delete an agent; its running sessions stop, past sessions stay readable",
        params: IdParams,
        response: { 204: Type.Null({ description: "Deleted" }) },
      },
    },
    async (request, reply) => {
      await deleteAgent(db.db, userOf(request).id, request.params.id);
      return reply.status(204).send(null);
    },
  );
};
