// The seed's limits: per authenticated user, or per IP for anonymous callers, over a window (1 h by default).
// A bot replying with its agent key has a budget of its own, per agent, sized for conversations.
import rateLimit from "@fastify/rate-limit";
import type { Session } from "@mimic/db";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { AppError } from "../errors.js";
import { bearerToken } from "./auth.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The route takes agent replies authenticated with the agent's api_key (`:id` is the session). */
    agentReplies?: boolean;
  }
  interface FastifyRequest {
    /** On agentReplies routes: the session the agent key opened (null: the key opened none), once looked up. */
    agentSession: Session | null | undefined;
  }
}

export interface RateLimitOptions {
  config: Config;
  /** The session `token` is the agent key of, if any. */
  agentSession: (sessionId: string, token: string) => Promise<Session | undefined>;
}

export default fp(
  async (app: FastifyInstance, opts: RateLimitOptions) => {
    const { rateLimit: limits } = opts.config;
    app.decorateRequest("agentSession", undefined);

    /** The agent behind an agent-key request, looked up once per request. */
    async function agentOf(request: FastifyRequest): Promise<string | undefined> {
      if (!request.routeOptions.config.agentReplies) return undefined;
      const token = bearerToken(request);
      const sessionId = (request.params as { id?: string } | undefined)?.id;
      if (!token || !sessionId) return undefined;
      if (request.agentSession === undefined)
        request.agentSession = (await opts.agentSession(sessionId, token)) ?? null;
      return request.agentSession?.agentId;
    }
    await app.register(rateLimit, {
      global: true,
      // Runs after the auth plugin's onRequest hook, so request.auth is known here.
      hook: "onRequest",
      timeWindow: limits.windowSeconds * 1000,
      max: (_request, key) =>
        key.startsWith("user:") ? limits.user : key.startsWith("agent:") ? limits.agent : limits.anonymous,
      // Probes and documentation assets would otherwise eat an anonymous caller's hourly budget.
      allowList: (request) =>
        request.url.startsWith("/docs") || request.url.startsWith("/health") || request.url === "/metrics",
      // A key that opens no session counts against the caller's IP, like any anonymous request.
      keyGenerator: (request) =>
        request.auth
          ? `user:${request.auth.user.id}`
          : agentOf(request).then((agentId) => (agentId ? `agent:${agentId}` : `ip:${request.ip}`)),
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
    app.addHook("onSend", (_request, reply, _payload, done) => {
      const reset = reply.getHeader("x-ratelimit-reset");
      if (reset !== undefined)
        reply.header("x-ratelimit-reset", Math.floor(Date.now() / 1000) + Number(reset));
      done();
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
