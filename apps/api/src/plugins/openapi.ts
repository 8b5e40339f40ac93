// The OpenAPI document (served at /openapi.json, written to packages/sdk/openapi.json by `pnpm gen`) and /docs.
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { buildAsyncApiDocument } from "../lib/asyncapi.js";

export const API_VERSION = "0.1.0";

declare module "fastify" {
  interface FastifyContextConfig {
    /** How the SDK names this operation: `x-sdk-resource` (dotted for nesting) and `x-sdk-method`. */
    sdk?: { resource?: string; method?: string };
  }
}

export const TAGS = [
  { name: "auth", description: "Register, log in, and the current user" },
  { name: "apiKeys", description: "Long-lived keys for CI; shown once, stored hashed" },
  { name: "personas", description: "Simulated customers" },
  { name: "agents", description: "The bots under test" },
  {
    name: "sessions",
    description:
      "A persona talking to an agent; live events on the WebSocket `/api/ws`, described by the AsyncAPI document at `/asyncapi.json`",
  },
  { name: "analytics", description: "Session and agent figures over time" },
  { name: "health", description: "Liveness and readiness" },
];

type Operation = Record<string, unknown> & {
  operationId?: string;
  parameters?: { in: string; name: string; schema?: Record<string, unknown>; description?: string }[];
  responses?: Record<string, { headers?: Record<string, unknown> }>;
  security?: unknown[];
};

/** Response headers, documented once under components.headers and referenced from every response that has them. */
export const RESPONSE_HEADERS = {
  "X-Request-Id": {
    description: "The request's id (yours when you sent a well-formed X-Request-Id); error bodies repeat it",
    schema: { type: "string" as const },
  },
  "X-RateLimit-Limit": {
    description: "Requests allowed in the current window (per user, per anonymous IP, or per agent key)",
    schema: { type: "integer" as const },
  },
  "X-RateLimit-Remaining": {
    description: "Requests left in the current window",
    schema: { type: "integer" as const },
  },
  "X-RateLimit-Reset": {
    description: "When the current window ends, in Unix time (seconds)",
    schema: { type: "integer" as const },
  },
  "Retry-After": {
    description: "Seconds to wait before trying again",
    schema: { type: "integer" as const },
  },
};
const header = (name: keyof typeof RESPONSE_HEADERS) => ({ $ref: `#/components/headers/${name}` });

/**
 * What the route schemas cannot say: response headers, the agent-key scheme, `security: []` on public operations
 * and the UUID format of path ids. Ids are checked by the services, so a malformed one answers 404 like an
 * unknown one (not 422): a client learns nothing from an id's shape, and old links fail the same way.
 */
function completeDocument(
  document: { paths?: Record<string, Record<string, Operation>> },
  routes: { publicOps: Set<string>; agentKeyOps: Set<string> },
) {
  for (const [path, methods] of Object.entries(document.paths ?? {})) {
    // Probes and documents are never rate-limited (plugins/rate-limit.ts); the API is.
    const limited = path.startsWith("/api/");
    for (const operation of Object.values(methods)) {
      const id = operation.operationId ?? "";
      if (routes.agentKeyOps.has(id)) operation.security = [{ bearerAuth: [] }, { agentKey: [] }];
      else if (routes.publicOps.has(id) && operation.security === undefined) operation.security = [];
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === "path" && parameter.name === "id" && parameter.schema)
          parameter.schema.format = "uuid";
      }
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        response.headers = {
          ...response.headers,
          "X-Request-Id": header("X-Request-Id"),
          ...(limited
            ? {
                "X-RateLimit-Limit": header("X-RateLimit-Limit"),
                "X-RateLimit-Remaining": header("X-RateLimit-Remaining"),
                "X-RateLimit-Reset": header("X-RateLimit-Reset"),
                ...(status === "429" ? { "Retry-After": header("Retry-After") } : {}),
              }
            : {}),
        };
      }
    }
  }
}

export default fp(
  async (app: FastifyInstance) => {
    // Route-level SDK naming hints, written into the document as `x-sdk-*` extensions of each operation.
    const sdkHints = new Map<string, { resource?: string; method?: string }>();
    const routes = { publicOps: new Set<string>(), agentKeyOps: new Set<string>() };
    app.addHook("onRoute", (route) => {
      const operationId = (route.schema as { operationId?: string } | undefined)?.operationId;
      if (!operationId) return;
      if (route.config?.sdk) sdkHints.set(operationId, route.config.sdk);
      if (route.config?.public) routes.publicOps.add(operationId);
      if (route.config?.agentReplies) routes.agentKeyOps.add(operationId);
    });
    await app.register(swagger, {
      transformObject: (documentObject) => {
        const document = (
          documentObject as {
            openapiObject: { paths?: Record<string, Record<string, Record<string, unknown>>> };
          }
        ).openapiObject;
        for (const methods of Object.values(document.paths ?? {})) {
          for (const operation of Object.values(methods)) {
            const hint = sdkHints.get(operation.operationId as string);
            if (hint?.resource) operation["x-sdk-resource"] = hint.resource;
            if (hint?.method) operation["x-sdk-method"] = hint.method;
          }
        }
        completeDocument(document, routes);
        return document;
      },
      openapi: {
        openapi: "3.1.0",
        info: {
          title: "Mimic API",
          version: API_VERSION,
          description:
            "Simulated customers (personas) talk to the conversational agent under test in timed sessions. " +
            "Every error has the shape `{error: {code, message, details?, requestId}}`.",
          license: { name: "MIT" },
        },
        servers: [{ url: "http://localhost:4000", description: "Local development" }],
        tags: TAGS,
        components: {
          securitySchemes: {
            bearerAuth: {
              type: "http",
              scheme: "bearer",
              description: "An access token from POST /api/auth/login, or an API key (`mk_…`)",
            },
            agentKey: {
              type: "http",
              scheme: "bearer",
              description:
                "The `api_key` of an agent's config: lets that agent add its replies to its own running sessions",
            },
          },
          headers: RESPONSE_HEADERS,
        },
      },
      refResolver: {
        // Keep component names as their $id (Persona, Agent …) rather than def-N.
        buildLocalReference: (json, _baseUri, _fragment, i) => (json.$id as string | undefined) ?? `def-${i}`,
      },
    });
    await app.register(swaggerUi, {
      routePrefix: "/docs",
      uiConfig: { docExpansion: "list", deepLinking: true, persistAuthorization: true },
      staticCSP: true,
    });
    // Public, static content: exempt from the anonymous budget like /docs (see plugins/rate-limit.ts).
    app.get("/openapi.json", { schema: { hide: true }, config: { rateLimit: false } }, async () =>
      app.swagger(),
    );
    // The live-event protocol (/api/ws), from the same schemas; built once, when first asked for.
    let asyncapi: ReturnType<typeof buildAsyncApiDocument> | undefined;
    app.get("/asyncapi.json", { schema: { hide: true }, config: { rateLimit: false } }, async () => {
      asyncapi ??= buildAsyncApiDocument({ schemas: app.getSchemas(), version: API_VERSION });
      return asyncapi;
    });
  },
  { name: "openapi" },
);
