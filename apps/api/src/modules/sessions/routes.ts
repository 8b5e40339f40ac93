import { type FastifyPluginAsyncTypebox, Type } from "@fastify/type-provider-typebox";
import type { MimicDb, Session } from "@mimic/db";
import type { FastifyRequest } from "fastify";
import type { Config } from "../../config.js";
import { AppError, unauthenticated } from "../../errors.js";
import { llmAvailability } from "../../lib/checks.js";
import { errorResponse, IdParams } from "../../lib/schemas.js";
import { bearerToken, userOf } from "../../plugins/auth.js";
import { getGroup, repeatSession } from "./groups.js";
import {
  BatchMessagesBody,
  BatchMessagesResultSchema,
  CreateMessageBody,
  CreateSessionBody,
  ExportQuery,
  ListMessagesQuery,
  ListSessionsQuery,
  MessageAudioParams,
  MessageListSchema,
  MessageSchema,
  RepeatQuery,
  SearchResultSchema,
  SessionDetailSchema,
  SessionGroupSchema,
  SessionListSchema,
  SessionSchema,
  SessionSearchQuery,
  SessionStatsSchema,
  StoppedSessionSchema,
  UpdateSessionBody,
} from "./schemas.js";
import {
  addMessages,
  createSession,
  findOwnedSession,
  getMessageAudio,
  getSession,
  listSessions,
  presentMessage,
  sessionForAgentKey,
  stopSession,
  updateSessionMetadata,
} from "./service.js";
import { exportSession, listMessages, searchSession, sessionStats } from "./transcript.js";

const tags = ["sessions"];

export const sessionRoutes: FastifyPluginAsyncTypebox<{ db: MimicDb; config: Config }> = async (
  app,
  { db, config },
) => {
  const options = llmAvailability(config);
  /**
   * The session a message post is for: the owner's (any sender), or — with the agent's api_key as the bearer
   * token — the session of that agent (agent messages to a running session only).
   */
  async function sessionForPost(
    request: FastifyRequest,
    id: string,
    senders: string[],
  ): Promise<{ session: Session; asAgent: boolean }> {
    if (request.auth)
      return { session: await findOwnedSession(db.db, request.auth.user.id, id), asAgent: false };
    const token = bearerToken(request);
    if (!token) throw unauthenticated(request.authProblem ?? "Authentication required");
    // The rate limiter looked the key up already (agentReplies routes); otherwise look it up now.
    const session =
      request.agentSession !== undefined
        ? (request.agentSession ?? undefined)
        : await sessionForAgentKey(db.db, id, token);
    if (!session) throw unauthenticated("Invalid credentials for this session");
    if (senders.some((s) => s !== "agent"))
      throw new AppError("AUTHORIZATION_ERROR", "An agent key may only add agent messages");
    return { session, asAgent: true };
  }

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
      reply.status(201).send(await createSession(db.db, userOf(request).id, request.body, options)),
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

  app.patch(
    "/:id",
    {
      schema: {
        operationId: "updateSession",
        tags,
        summary: "Merge metadata into a session (a key set to null is removed)",
        params: IdParams,
        body: Type.Ref(UpdateSessionBody),
        response: { 200: Type.Ref(SessionSchema) },
      },
    },
    async (request) =>
      updateSessionMetadata(db.db, userOf(request).id, request.params.id, request.body.metadata),
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

  const messagePostDoc = {
    security: [{ bearerAuth: [] }],
    description:
      "The session's owner may add messages of any sender type. An agent authenticates with the `api_key` of its config and may only add `agent` messages to a running session. Sending the same `id` twice stores one message.",
  };

  app.post(
    "/:id/messages",
    {
      // Authenticated inside: the owner, or the session's agent with its api_key (asynchronous replies).
      config: { public: true, agentReplies: true, sdk: { resource: "sessions.messages", method: "create" } },
      schema: {
        operationId: "addSessionMessage",
        tags,
        summary: "Append a message — also how an asynchronous agent replies (Bearer = the agent's api_key)",
        ...messagePostDoc,
        params: IdParams,
        body: Type.Ref(CreateMessageBody),
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
      const { session, asAgent } = await sessionForPost(request, request.params.id, [
        request.body.senderType,
      ]);
      const { messages, created } = await addMessages(db.db, session, [request.body], {
        requireRunning: asAgent,
      });
      return reply.status(created ? 201 : 200).send(presentMessage(messages[0]!));
    },
  );

  app.post(
    "/:id/messages/batch",
    {
      config: {
        public: true,
        agentReplies: true,
        sdk: { resource: "sessions.messages", method: "createBatch" },
      },
      schema: {
        operationId: "addSessionMessages",
        tags,
        summary: "Append up to 500 messages atomically: one invalid item and nothing is written",
        ...messagePostDoc,
        params: IdParams,
        body: Type.Ref(BatchMessagesBody),
        response: {
          201: Type.Ref(BatchMessagesResultSchema),
          401: errorResponse("Missing or invalid credentials"),
          404: errorResponse("Not found, or not yours"),
          409: errorResponse("The session is not running, or an id is taken"),
        },
      },
    },
    async (request, reply) => {
      const items = request.body.messages;
      const { session, asAgent } = await sessionForPost(
        request,
        request.params.id,
        items.map((m) => m.senderType),
      );
      const { messages, created } = await addMessages(db.db, session, items, { requireRunning: asAgent });
      return reply.status(201).send({ data: messages.map(presentMessage), created });
    },
  );

  app.get(
    "/:id/messages",
    {
      config: { sdk: { resource: "sessions.messages", method: "list" } },
      schema: {
        operationId: "listSessionMessages",
        tags,
        summary: "Page through a transcript, oldest first",
        params: IdParams,
        querystring: ListMessagesQuery,
        response: { 200: Type.Ref(MessageListSchema) },
      },
    },
    async (request) =>
      listMessages(
        db.db,
        await findOwnedSession(db.db, userOf(request).id, request.params.id),
        request.query,
      ),
  );

  app.get(
    "/:id/messages/:messageId/audio",
    {
      config: { sdk: { resource: "sessions.messages", method: "audio" } },
      schema: {
        operationId: "getSessionMessageAudio",
        tags,
        summary: "Download a voice call turn's audio (WAV, 8 kHz 16-bit mono)",
        description:
          "Messages with `metadata.voice.audio: true` have it: what the persona said, or what the bot said as Mimic heard it.",
        params: MessageAudioParams,
        response: {
          200: {
            description: "The WAV file",
            content: { "audio/wav": { schema: { type: "string", format: "binary" } } },
          },
          404: errorResponse("No such session of yours, no such message in it, or no audio for it"),
        },
      },
    },
    async (request, reply) => {
      const { id, messageId } = request.params;
      const audio = await getMessageAudio(db.db, userOf(request).id, id, messageId);
      return reply
        .header("content-type", "audio/wav")
        .header("content-length", audio.wav.length)
        .header("content-disposition", `inline; filename="${messageId.toLowerCase()}.wav"`)
        .header("cache-control", "private, max-age=3600")
        .send(audio.wav);
    },
  );

  app.get(
    "/:id/search",
    {
      config: { sdk: { method: "search" } },
      schema: {
        operationId: "searchSession",
        tags,
        summary: "Full-text search in one transcript: ranked, highlighted",
        params: IdParams,
        querystring: SessionSearchQuery,
        response: { 200: Type.Ref(SearchResultSchema) },
      },
    },
    async (request) => {
      const session = await findOwnedSession(db.db, userOf(request).id, request.params.id);
      return searchSession(db.db, session, request.query.q, request.query);
    },
  );

  app.get(
    "/:id/export",
    {
      config: { sdk: { method: "export" } },
      schema: {
        operationId: "exportSession",
        tags,
        summary: "Download a session as JSON, JSON Lines or Markdown (streamed)",
        params: IdParams,
        querystring: ExportQuery,
        response: {
          200: {
            description: "The file, as an attachment",
            content: {
              "application/json": { schema: { type: "object", additionalProperties: true } },
              "application/x-ndjson": { schema: { type: "string" } },
              "text/markdown": { schema: { type: "string" } },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const session = await findOwnedSession(db.db, userOf(request).id, request.params.id);
      const file = await exportSession(db.db, session, request.query.format);
      return reply
        .header("content-type", file.contentType)
        .header("content-disposition", `attachment; filename="${file.filename}"`)
        .header("cache-control", "no-store")
        .send(file.stream);
    },
  );

  app.get(
    "/:id/stats",
    {
      config: { sdk: { method: "stats" } },
      schema: {
        operationId: "getSessionStats",
        tags,
        summary: "Messages per sender, reply latency p50/p95/max, duration, token usage and verdict",
        params: IdParams,
        response: { 200: Type.Ref(SessionStatsSchema) },
      },
    },
    async (request) =>
      sessionStats(db.db, await findOwnedSession(db.db, userOf(request).id, request.params.id)),
  );

  app.post(
    "/:id/repeat",
    {
      config: { sdk: { method: "repeat" } },
      schema: {
        operationId: "repeatSession",
        tags,
        summary:
          "Run the session's persona/agent pair again: a new group of N runs with its config and checks",
        params: IdParams,
        querystring: RepeatQuery,
        response: { 201: Type.Ref(SessionGroupSchema) },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(
          await repeatSession(db.db, userOf(request).id, request.params.id, request.query.times, options),
        ),
  );
};

export const sessionGroupRoutes: FastifyPluginAsyncTypebox<{ db: MimicDb }> = async (app, { db }) => {
  app.get(
    "/:id",
    {
      config: { sdk: { resource: "sessionGroups", method: "get" } },
      schema: {
        operationId: "getSessionGroup",
        tags,
        summary: "Repeated runs of one pair: per-run verdicts, pass rate and pass^k",
        params: IdParams,
        response: { 200: Type.Ref(SessionGroupSchema) },
      },
    },
    async (request) => getGroup(db.db, userOf(request).id, request.params.id),
  );
};
