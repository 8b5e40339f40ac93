// The seed's limits: per authenticated user, or per IP for anonymous callers, over a window (1 h by default).
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { AppError } from "../errors.js";

export default fp(
  async (app: FastifyInstance, opts: { config: Config }) => {
    const { rateLimit: limits } = opts.config;
    await app.register(rateLimit, {
      global: true,
      // Runs after the auth plugin's onRequest hook, so request.auth is known here.
      hook: "onRequest",
      timeWindow: limits.windowSeconds * 1000,
      max: (request) => (request.auth ? limits.user : limits.anonymous),
      // Probes and documentation assets would otherwise eat an anonymous caller's hourly budget.
      allowList: (request) =>
        request.url.startsWith("/docs") || request.url.startsWith("/health") || request.url === "/metrics",
      keyGenerator: (request) => (request.auth ? `user:${request.auth.user.id}` : `ip:${request.ip}`),
      errorResponseBuilder: (_request, context) =>
        new AppError(
          "RATE_LIMIT_EXCEEDED",
          `Rate limit exceeded: ${context.max} requests per window; retry in ${context.after}`,
        ),
      addHeadersOnExceeding: {
        "x-ratelimit-limit": true,
        "x-ratelimit-remaining": true,
        "x-ratelimit-reset": true,
      },
      addHeaders: {
        "x-ratelimit-limit": true,
        "x-ratelimit-remaining": true,
        "x-ratelimit-reset": true,
        "retry-after": true,
      },
    });

    // The plugin reports the reset as seconds from now; the seed's X-RateLimit-Reset is a Unix timestamp.
    app.addHook("onSend", async (_request, reply) => {
      const reset = reply.getHeader("x-ratelimit-reset");
      if (reset !== undefined)
        reply.header("x-ratelimit-reset", Math.floor(Date.now() / 1000) + Number(reset));
    });
  },
  { name: "rate-limit", dependencies: ["auth"] },
);

/** Route config for login: a stricter per-IP budget against password guessing. */
export const loginRateLimit = (config: Config) => ({
  max: config.rateLimit.login,
  timeWindow: Math.min(config.rateLimit.windowSeconds, 900) * 1000,
  keyGenerator: (request: { ip: string }) => `login:${request.ip}`,
});
