// The Graph surface under /whatsapp: a bot built for the WhatsApp Cloud API is tested by pointing its Graph base URL
// (https://graph.facebook.com) here. Graph's error envelope, its own rate limit per phone number id, and no Mimic
// user token is ever accepted: only the agent's `api_key`. Hidden from Mimic's OpenAPI document.
import { createHash } from "node:crypto";
import type { MimicDb } from "@mimic/db";
import type { FastifyError, FastifyInstance, FastifyRequest } from "fastify";
import type { Config } from "../../config.js";
import { outboundPolicy } from "../../engine/index.js";
import { AppError } from "../../errors.js";
import { safeEqual } from "../../lib/safe-equal.js";
import { bearerToken } from "../../plugins/auth.js";
import { isDatabaseUnavailable } from "../../plugins/errors.js";
import {
  GraphError,
  invalidParameter,
  invalidToken,
  mediaUploadError,
  rateLimitHit,
  unknownObject,
  unknownPath,
} from "./errors.js";
import { authenticate, sendMessage } from "./graph.js";
import { MEDIA_MAX_BYTES, uploadMedia } from "./media.js";
import { StatusSender } from "./statuses.js";
import { agentById, agentConfigOf, deleteMedia, findMedia, mediaBytes } from "./store.js";

export interface WhatsappRoutesOptions {
  db: MimicDb;
  config: Config;
}

const VERSION_RE = /^v[0-9]{1,2}\.[0-9]{1,2}$/;

/** The access token, from `Authorization: Bearer …` (never from the query string, which ends up in logs). */
const tokenOf = (request: FastifyRequest) => bearerToken(request);

function checkVersion(request: FastifyRequest) {
  const { version } = request.params as { version: string };
  if (!VERSION_RE.test(version)) throw unknownPath(request.url.split("?")[0]!);
}

function toGraphError(error: FastifyError): GraphError {
  if (error instanceof GraphError) return error;
  if (error instanceof AppError && error.code === "RATE_LIMIT_EXCEEDED") return rateLimitHit(error.message);
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return invalidParameter("The request body is not valid JSON");
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return mediaUploadError("The request body is too large");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return invalidParameter(
        "Unsupported Content-Type: send application/json (or multipart/form-data for media)",
      );
  }
  if (error.statusCode === 429) return rateLimitHit("Too many requests");
  if (isDatabaseUnavailable(error))
    return new GraphError(2, "Service temporarily unavailable", "Try again shortly", 503);
  if (error.statusCode && error.statusCode < 500) return invalidParameter(error.message || "Bad request");
  return new GraphError(1, "An unknown error occurred", "An unexpected error occurred", 500);
}

export async function whatsappRoutes(app: FastifyInstance, opts: WhatsappRoutesOptions) {
  const { config } = opts;
  const db = opts.db.db;
  const statuses = new StatusSender(outboundPolicy(config), app.log);
  app.addHook("onClose", async () => statuses.drain());

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const graph = toGraphError(error);
    if (graph.httpStatus >= 500) request.log.error({ err: error }, "WhatsApp Graph request failed");
    return reply.status(graph.httpStatus).type("application/json; charset=utf-8").send(graph.body());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = unknownPath(request.url.split("?")[0]!);
    return reply.status(error.httpStatus).send(error.body());
  });
  app.addContentTypeParser(
    "multipart/form-data",
    { parseAs: "buffer", bodyLimit: MEDIA_MAX_BYTES + 64 * 1024 },
    (_request, body, done) => done(null, body),
  );

  // Graph's budget is per phone number (per IP for media reads, which name none), never the caller's user or IP
  // budget. The token is part of the key, so calls with a wrong one cannot spend the bot's budget.
  const limit = (key: (request: FastifyRequest) => string) => ({
    rateLimit: {
      max: config.rateLimit.agent,
      timeWindow: config.rateLimit.windowSeconds * 1000,
      keyGenerator: key,
    },
  });
  const byNumber = limit(
    (r) =>
      `whatsapp:${(r.params as { phoneNumberId?: string }).phoneNumberId ?? ""}:${createHash("sha256")
        .update(tokenOf(r) ?? "")
        .digest("base64url")
        .slice(0, 16)}`,
  );
  const byIp = limit((r) => `whatsapp-ip:${r.ip}`);
  // Hidden from Mimic's own OpenAPI document; a bot's chatter logs only what goes wrong.
  const quiet = { schema: { hide: true }, logLevel: "warn" as const };

  app.post("/:version/:phoneNumberId/messages", { ...quiet, config: byNumber }, async (request) => {
    checkVersion(request);
    const { phoneNumberId } = request.params as { phoneNumberId: string };
    const caller = await authenticate(db, phoneNumberId, tokenOf(request));
    return sendMessage({ db, statuses }, caller, request.body);
  });

  app.post(
    "/:version/:phoneNumberId/media",
    { ...quiet, config: byNumber, bodyLimit: MEDIA_MAX_BYTES + 64 * 1024 },
    async (request) => {
      checkVersion(request);
      const { phoneNumberId } = request.params as { phoneNumberId: string };
      const caller = await authenticate(db, phoneNumberId, tokenOf(request));
      const contentType = String(request.headers["content-type"] ?? "");
      if (!Buffer.isBuffer(request.body) || !contentType.startsWith("multipart/form-data"))
        throw invalidParameter("Upload media as multipart/form-data with messaging_product, type and file");
      return uploadMedia(db, caller, request.body, contentType);
    },
  );

  /** The media object, if the token is its owner's `api_key` (anything else: it does not exist for the caller). */
  async function ownedMedia(request: FastifyRequest, mediaId: string) {
    const token = tokenOf(request);
    if (!token) throw invalidToken("An access token is required to request this resource");
    const media = await findMedia(db, mediaId);
    const agent = media ? await agentById(db, media.agentId) : undefined;
    const agentConfig = agent ? agentConfigOf(db, agent) : {};
    const key = agentConfig.api_key;
    if (!media || !agent || agent.deletedAt || typeof key !== "string" || !safeEqual(key, token))
      throw unknownObject(mediaId);
    const phoneNumberId = (request.query as { phone_number_id?: unknown }).phone_number_id;
    if (phoneNumberId !== undefined && phoneNumberId !== agentConfig.phone_number_id)
      throw unknownObject(mediaId);
    return media;
  }

  app.get("/:version/:mediaId", { ...quiet, config: byIp }, async (request) => {
    checkVersion(request);
    const { mediaId } = request.params as { mediaId: string };
    const media = await ownedMedia(request, mediaId);
    return {
      messaging_product: "whatsapp",
      url: `${request.protocol}://${request.host}/whatsapp/attachments/${media.id}`,
      mime_type: media.mimeType,
      sha256: media.sha256,
      file_size: media.size,
      id: media.id,
    };
  });

  app.delete("/:version/:mediaId", { ...quiet, config: byIp }, async (request) => {
    checkVersion(request);
    const { mediaId } = request.params as { mediaId: string };
    const media = await ownedMedia(request, mediaId);
    await deleteMedia(db, media.id);
    return { success: true };
  });

  // Where GET /{media_id}'s `url` points (Meta's lookaside URL): the bytes, for the same access token.
  app.get("/attachments/:mediaId", { ...quiet, config: byIp }, async (request, reply) => {
    const { mediaId } = request.params as { mediaId: string };
    const media = await ownedMedia(request, mediaId);
    const data = await mediaBytes(db, media.id);
    if (!data) throw unknownObject(mediaId);
    return reply.type(media.mimeType).header("content-length", data.length).send(data);
  });
}
