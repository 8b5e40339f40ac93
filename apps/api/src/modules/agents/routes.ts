import { type FastifyPluginAsyncTypebox, Type } from "@fastify/type-provider-typebox";
import type { MimicDb } from "@mimic/db";
import type { Config } from "../../config.js";
import { outboundPolicy } from "../../engine/index.js";
import { compileValidator } from "../../lib/ajv.js";
import { IdParams } from "../../lib/schemas.js";
import { bindKeyring, resolveSecretKeyring } from "../../lib/secrets.js";
import { userOf } from "../../plugins/auth.js";
import {
  AgentListSchema,
  AgentSchema,
  CreateAgentBody,
  ListAgentsQuery,
  UpdateAgentBody,
  UpdateAgentEnvelope,
} from "./schemas.js";
import { createAgent, deleteAgent, getAgent, listAgents, sealStoredSecrets, updateAgent } from "./service.js";

export const agentRoutes: FastifyPluginAsyncTypebox<{ db: MimicDb; config: Config }> = async (
  app,
  { db, config },
) => {
  const tags = ["agents"];
  const policy = { allowPrivateTargets: config.allowPrivateTargets, outbound: outboundPolicy(config) };

  // This database's agent secrets are sealed with the configured key (the engine and the sessions' agent-key check
  // open them through the same database). At start-up, whatever is not sealed with the current key yet is.
  bindKeyring(db.db, () => resolveSecretKeyring(config));
  app.addHook("onReady", async () => {
    const { sealed, unreadable } = await sealStoredSecrets(db.db);
    if (sealed > 0) app.log.info({ agents: sealed }, "agent secrets encrypted with the current key");
    if (unreadable > 0)
      app.log.error(
        { agents: unreadable },
        "some agents' secrets were encrypted with a key that is not configured: set MIMIC_SECRET_KEY_PREVIOUS to it",
      );
  });

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
      // `config` fits the type that applies (stored, or changed in the same request), which only the service knows:
      // the body is validated without it here, and the service names the offending `config.<field>`.
      validatorCompiler: ({ schema, httpPart }) =>
        compileValidator({ schema: httpPart === "body" ? UpdateAgentEnvelope : schema, httpPart }),
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
