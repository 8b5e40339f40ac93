// Security headers on every response (@fastify/helmet), set as the request arrives so that errors — a 401, a 429 —
// carry them too; and `Cache-Control: no-store` on the API, whose answers hold tokens, keys and users' data.
import helmet from "@fastify/helmet";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

export default fp(
  async (app: FastifyInstance) => {
    await app.register(helmet, {
      // JSON loads and frames nothing. The one HTML page, /docs, sends its own policy (@fastify/swagger-ui's
      // staticCSP, which allows its scripts and styles by hash), replacing this one on its responses.
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'none'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'none'"],
        },
      },
      // Other origins call the API through CORS (MIMIC_CORS_ORIGINS), which this does not restrict.
      crossOriginResourcePolicy: { policy: "same-site" },
    });
    app.addHook("onSend", async (request, reply) => {
      // A route that chose its own caching keeps it; every other API answer is kept by no browser or proxy.
      if (request.url.startsWith("/api/") && !reply.hasHeader("cache-control"))
        reply.header("cache-control", "no-store");
    });
  },
  { name: "security-headers" },
);
