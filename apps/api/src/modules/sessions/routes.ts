import { type FastifyPluginAsyncTypebox, Type } from "@fastify/type-provider-typebox";
import type { MimicDb } from "@mimic/db";
import { AppError, unauthenticated } from "../../errors.js";
import { errorResponse, IdParams } from "../../lib/schemas.js";
import { userOf } from "../../plugins/auth.js";
import {
  CreateMessageBody,
  CreateSessionBody,
  ListSessionsQuery,
  MessageSchema,
  SessionDetailSchema,
  SessionListSchema,
  SessionSchema,
  StoppedSessionSchema,
} from "./schemas.js";
import {
  addMessage,
  createSession,
  findOwnedSession,
  getSession,
  listSessions,
  presentMessage,
  sessionForAgentKey,
  stopSession,
} from "./service.js";

export const sessionRoutes: FastifyPluginAsyncTypebox<{ db: MimicDb }> = async (app, { db }) => {
  const tags = ["sessions"];

  app.post(
    "/",
    {
      schema: {
        operationId: "createSession",
        tags,
        summary: "Start a session: the persona talks to the agent until a limit or its goal ends it",
        body: Type.Ref(CreateSessionBody),
        response: { 201: Type.Ref(SessionSchema), 409: errorResponse("The agent is inactive") },
      },
    },
    async (request, reply) =>
      reply.status(201).send(await createSession(db.db, userOf(request).id, request.body)),
  );

  app.get(
    "/",
    {
      schema: {
        operationId: "listSessions",
        tags,
        summary: "List your sessions, newest first",
        querystring: ListSessionsQuery,
        response: { 200: Type.Ref(SessionListSchema) },
      },
    },
    async (request) => listSessions(db.db, userOf(request).id, request.query),
  );

  app.get(
    "/:id",
    {
      schema: {
        operationId: "getSession",
        tags,
        summary: "Get a session with its transcript",
        params: IdParams,
        response: { 200: Type.Ref(SessionDetailSchema) },
      },
    },
    async (request) => getSession(db.db, userOf(request).id, request.params.id),
  );

  app.delete(
    "/:id",
    {
      schema: {
        operationId: "stopSession",
        tags,
        summary: "Stop a running session (the transcript is kept); a finished session is returned unchanged",
        params: IdParams,
        response: { 200: Type.Ref(StoppedSessionSchema) },
      },
    },
    async (request) => stopSession(db.db, userOf(request).id, request.params.id),
  );

  app.post(
    "/:id/messages",
    {
      // Authenticated inside: the session's owner, or the session's agent with its api_key (asynchronous replies).
      config: { public: true },
      schema: {
        operationId: "addSessionMessage",
        tags,
        summary: "Append a message — how an asynchronous agent replies (Bearer = the agent's api_key)",
        description:
          "The session's owner may add messages of any sender type. An agent authenticates with the `api_key` of its config and may only add `agent` messages to a running session. Sending the same `id` twice stores one message (201 the first time, 200 after).",
        params: IdParams,
        body: Type.Ref(CreateMessageBody),
        security: [{ bearerAuth: [] }],
        response: {
          200: Type.Ref(MessageSchema),
          201: Type.Ref(MessageSchema),
          401: errorResponse("Missing or invalid credentials"),
          404: errorResponse("Not found, or not yours"),
          409: errorResponse("The session is not running, or the id is taken"),
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      let session: Awaited<ReturnType<typeof findOwnedSession>> | undefined;
      if (request.auth) {
        session = await findOwnedSession(db.db, request.auth.user.id, id);
      } else {
        const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
        if (!token) throw unauthenticated(request.authProblem ?? "Authentication required");
        session = await sessionForAgentKey(db.db, id, token);
        if (!session) throw unauthenticated("Invalid credentials for this session");
        if (request.body.senderType !== "agent") {
          throw new AppError("AUTHORIZATION_ERROR", "An agent key may only add agent messages");
        }
        if (session.status !== "pending" && session.status !== "active") {
          throw new AppError("CONFLICT", `The session is ${session.status}; it no longer accepts replies`);
        }
      }
      const { message, created } = await addMessage(db.db, session, request.body);
      return reply.status(created ? 201 : 200).send(presentMessage(message));
    },
  );
};
