// The OpenAPI document (served at /openapi.json, written to packages/sdk/openapi.json by `pnpm gen`) and /docs.
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

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
      "A persona talking to an agent; live events on the WebSocket `/api/ws` (see the LiveEvent schema)",
  },
  { name: "analytics", description: "Session and agent figures over time" },
  { name: "health", description: "Liveness and readiness" },
];

export default fp(
  async (app: FastifyInstance) => {
    // Route-level SDK naming hints, written into the document as `x-sdk-*` extensions of each operation.
    const sdkHints = new Map<string, { resource?: string; method?: string }>();
    app.addHook("onRoute", (route) => {
      const operationId = (route.schema as { operationId?: string } | undefined)?.operationId;
      if (operationId && route.config?.sdk) sdkHints.set(operationId, route.config.sdk);
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
          },
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
  },
  { name: "openapi" },
);
