// Builds the Fastify instance without listening: main.ts, the tests and `pnpm gen` all start here.
import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import cors from "@fastify/cors";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import fastifyWebsocket from "@fastify/websocket";
import type { MimicDb } from "@mimic/db";
import Fastify, {
  type FastifyInstance,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from "fastify";
import { whatsappRoutes } from "./channels/whatsapp/routes.js";
import type { Config } from "./config.js";
import { EventHub } from "./engine/events.js";
import { createRunner } from "./engine/index.js";
import type { Runner } from "./engine/runner.js";
import { AppError, ERROR_STATUS } from "./errors.js";
import { bodyAjv, compileValidator, paramsAjv } from "./lib/ajv.js";
import { errSerializer, REDACT_PATHS } from "./lib/logging.js";
import { errorResponse, sharedSchemas } from "./lib/schemas.js";
import { agentRoutes } from "./modules/agents/routes.js";
import { agentSchemas } from "./modules/agents/schemas.js";
import { analyticsRoutes } from "./modules/analytics/routes.js";
import { analyticsSchemas } from "./modules/analytics/schemas.js";
import { apiKeyRoutes } from "./modules/api-keys/routes.js";
import { apiKeySchemas } from "./modules/api-keys/schemas.js";
import { authRoutes } from "./modules/auth/routes.js";
import { authSchemas } from "./modules/auth/schemas.js";
import { healthRoutes, healthSchemas } from "./modules/health/routes.js";
import { liveRoutes } from "./modules/live/routes.js";
import { personaRoutes } from "./modules/personas/routes.js";
import { personaSchemas } from "./modules/personas/schemas.js";
import { searchRoutes } from "./modules/search/routes.js";
import { sessionGroupRoutes, sessionRoutes } from "./modules/sessions/routes.js";
import { liveEventSchemas, sessionSchemas } from "./modules/sessions/schemas.js";
import { sessionForAgentKey } from "./modules/sessions/service.js";
import authPlugin from "./plugins/auth.js";
import errorsPlugin, { handleError, sendError } from "./plugins/errors.js";
import metricsPlugin from "./plugins/metrics.js";
import openapiPlugin from "./plugins/openapi.js";
import quotasPlugin from "./plugins/quotas.js";
import rateLimitPlugin from "./plugins/rate-limit.js";
import securityHeadersPlugin from "./plugins/security-headers.js";
import { hasWebBuild, webRoutes } from "./plugins/web.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Routes under /api need a credential unless marked public. */
    public?: boolean;
  }
}

export interface BuildAppOptions {
  config: Config;
  db: MimicDb;
  /** HS256 secret for access tokens (main.ts resolves it from config or the data dir). */
  jwtSecret: string;
  logger?: FastifyServerOptions["logger"];
  /** Run the simulation engine in this process (main.ts: MIMIC_ROLE all|worker). */
  engine?: boolean;
}

declare module "fastify" {
  interface FastifyInstance {
    events: EventHub;
    runner: Runner | undefined;
  }
}

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{8,128}$/;

/** Error responses every authenticated route can give, referenced from the document. */
const COMMON_ERRORS: Record<number, string> = {
  401: "Missing, invalid or expired credentials",
  404: "Not found, or not yours",
  422: "Invalid request data",
  429: "Rate limit exceeded",
};

export async function buildApp(options: BuildAppOptions): Promise<FastifyInstance> {
  const { config, db } = options;
  // Redaction and the error serializer apply to every logger, a caller's (tests, embedded) included.
  const logSafety = {
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    serializers: {
      // The WebSocket route accepts ?token=: never log it.
      req: (req: FastifyRequest) => ({
        method: req.method,
        url: req.url.replace(/([?&]token=)[^&]*/g, "$1[redacted]"),
        remoteAddress: req.ip,
      }),
      err: errSerializer,
    },
  };
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : typeof options.logger === "object"
          ? { ...options.logger, ...logSafety }
          : {
              level: config.logLevel,
              ...(config.logFormat === "pretty"
                ? {
                    transport: {
                      target: "pino-pretty",
                      options: { translateTime: "HH:MM:ss", ignore: "pid,hostname,reqId" },
                    },
                  }
                : {}),
              ...logSafety,
            },
    bodyLimit: config.bodyLimit,
    requestTimeout: 30_000,
    // Closing waits for the engine's turns in flight (up to 8 s): leave room for it.
    pluginTimeout: 30_000,
    connectionTimeout: 60_000,
    trustProxy: config.trustProxy,
    logController: new LogController({
      requestIdLogLabel: "requestId",
      disableRequestLogging: config.env === "test",
    }),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID_RE.test(given) ? given : randomUUID();
    },
    // Ids longer than Fastify's default 100 characters reach their route (and its 404); longer still is a 414.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1024 },
    // The router's own errors (a path that is not valid percent-encoding, a path segment over maxParamLength).
    frameworkErrors: (error, request, reply) => {
      reply.header("x-request-id", request.id);
      return handleError(error, request, reply);
    },
    // Requests Node's parser refuses never reach Fastify; they still get the envelope, with a request id of their own.
    clientErrorHandler: (error: NodeJS.ErrnoException, socket) => {
      if (error.code === "ECONNRESET" || socket.destroyed) return;
      const [status, message] =
        error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [408, "The request took too long to arrive"]
          : error.code === "HPE_HEADER_OVERFLOW"
            ? [431, "The request headers are too large"]
            : [400, "The request is not valid HTTP"];
      const requestId = randomUUID();
      const body = JSON.stringify({ error: { code: "VALIDATION_ERROR", message, requestId } });
      if (socket.writable)
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
        );
      socket.destroy(error);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.setValidatorCompiler(compileValidator);
  // Shared component schemas must be known to the validators that compile $refs against them.
  const components = [
    ...authSchemas,
    ...apiKeySchemas,
    ...personaSchemas,
    ...agentSchemas,
    ...sessionSchemas,
    ...liveEventSchemas,
    ...analyticsSchemas,
    ...healthSchemas,
  ];

  // Hooks that run on every request take a callback: no promise to allocate and settle.
  // First, so that every response (its request id included), errors from the hooks after it included, carries the security headers.
  await app.register(securityHeadersPlugin);
  await app.register(errorsPlugin);
  if (config.corsOrigins.length > 0) {
    // Browsers on other origins (a dashboard, the SDK in a web app). Bearer tokens, not cookies: no credentials.
    await app.register(cors, {
      origin: config.corsOrigins.includes("*") ? "*" : config.corsOrigins,
      methods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
      allowedHeaders: ["authorization", "content-type", "x-request-id"],
      exposedHeaders: [
        "x-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "retry-after",
        "content-disposition",
      ],
      maxAge: 600,
    });
  }
  await app.register(authPlugin, { config, db, jwtSecret: options.jwtSecret });
  await app.register(rateLimitPlugin, {
    config,
    agentSession: (sessionId, token) => sessionForAgentKey(db.db, sessionId, token),
  });
  await app.register(openapiPlugin);
  await app.register(quotasPlugin, { db, config });
  for (const schema of [...sharedSchemas, ...components]) {
    app.addSchema(schema);
    for (const ajv of [bodyAjv, paramsAjv]) if (!ajv.getSchema(schema.$id!)) ajv.addSchema(schema);
  }

  app.addHook("onRoute", (route) => {
    if (!route.url.startsWith("/api/") || !route.schema || route.schema.hide) return;
    const isPublic = route.config?.public === true;
    route.schema.response ??= {};
    const response = route.schema.response as Record<string, unknown>;
    for (const [status, description] of Object.entries(COMMON_ERRORS)) {
      if (isPublic && (status === "401" || status === "404")) continue;
      response[status] ??= errorResponse(description);
    }
    if (!isPublic) route.schema.security ??= [{ bearerAuth: [] }];
  });

  // Identity is known (auth plugin) and the rate limit applied (onRequest) before this runs.
  app.addHook("preValidation", (request, _reply, done) => {
    if (request.auth) return done();
    const { url, config } = request.routeOptions;
    if (!url?.startsWith("/api/") || config.public) return done();
    app.requireAuth(request).then(() => done(), done);
  });

  // Live events: one LISTEN per process. The engine, when it runs here, stops first on close (leases released
  // before HTTP drains), then WebSockets close with 1001, then the hub stops listening.
  const hub = new EventHub(db, (error) => app.log.error({ err: error }, "live event dispatch failed"));
  app.decorate("events", hub);
  const runner = options.engine ? createRunner(db, config, app.log, hub) : undefined;
  app.decorate("runner", runner);
  app.addHook("onReady", async () => {
    await hub.start();
    await runner?.start();
  });
  app.addHook("preClose", async () => {
    await runner?.stop();
    // HTTP drains next: requests in flight get the drain window to finish, then whatever is still open (a
    // client mid-upload, a stalled keep-alive request) is cut, so shutdown never waits on a client.
    setTimeout(() => app.server.closeAllConnections(), config.shutdownDrainMs).unref();
  });
  app.addHook("onClose", async () => {
    await hub.stop();
  });
  await app.register(fastifyWebsocket, {
    options: { maxPayload: 64 * 1024 },
    preClose: async function closeSockets(this: FastifyInstance) {
      for (const client of this.websocketServer.clients) client.close(1001, "Mimic is shutting down");
    },
  });

  await app.register(metricsPlugin);
  await app.register(healthRoutes, { db });
  await app.register(
    async (api) => {
      await api.register(authRoutes, { prefix: "/auth", db, config });
      await api.register(apiKeyRoutes, { prefix: "/auth/api-keys", db });
      await api.register(personaRoutes, { prefix: "/personas", db, config });
      await api.register(agentRoutes, { prefix: "/agents", db, config });
      await api.register(sessionRoutes, { prefix: "/sessions", db, config });
      await api.register(sessionGroupRoutes, { prefix: "/session-groups", db });
      await api.register(searchRoutes, { prefix: "/search", db });
      await api.register(analyticsRoutes, { prefix: "/analytics", db });
      await api.register(liveRoutes, {
        db,
        hub,
        maxConnectionsPerUser: config.wsMaxConnections,
        pingIntervalMs: config.wsPingIntervalMs,
      });
    },
    { prefix: "/api" },
  );

  // Mimic playing the WhatsApp Cloud API (Graph): bots point their Graph base URL here.
  await app.register(whatsappRoutes, { prefix: "/whatsapp", db, config });

  // The dashboard at / once apps/web is built (`pnpm build`), or the build MIMIC_WEB_DIR names.
  if (config.webDir && hasWebBuild(config.webDir)) await app.register(webRoutes, { root: config.webDir });

  app.setNotFoundHandler({ preHandler: app.rateLimit() }, (request, reply) =>
    sendError(
      request,
      reply,
      new AppError("RESOURCE_NOT_FOUND", `Route ${request.method} ${request.url.split("?")[0]} not found`),
    ),
  );

  return app;
}

export { ERROR_STATUS };
export type { Config } from "./config.js";
export { loadConfig } from "./config.js";
