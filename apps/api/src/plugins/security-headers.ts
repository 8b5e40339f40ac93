// Security headers on every response (helmet's) and its request id, set as the request arrives so that errors — a
// 401, a 429 — carry them too; and `Cache-Control: no-store` on the API, whose answers hold tokens, keys and users'
// data.
// helmet's headers do not depend on the request: they are worked out once, at start, and copied onto each response
// (@fastify/helmet rebuilt the whole middleware, options parsing included, for every request).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import helmet, { type HelmetOptions } from "helmet";

export const HELMET_OPTIONS: HelmetOptions = {
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
};

/** What helmet does to a response, recorded once: the headers it sets and those it removes. */
export function helmetHeaders(options: HelmetOptions) {
  const set: [string, string][] = [];
  const removed: string[] = [];
  const recorder = {
    setHeader(name: string, value: string) {
      set.push([name, value]);
    },
    removeHeader(name: string) {
      removed.push(name);
    },
  };
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return { set, removed };
}

export default fp(
  async (app: FastifyInstance) => {
    const { set, removed } = helmetHeaders(HELMET_OPTIONS);
    // Set on the raw response as the request arrives, in one hook (no onSend hook to run on every reply): headers a
    // route sets with reply.header() are written with writeHead, which takes precedence over these.
    app.addHook("onRequest", (request, reply, done) => {
      const res = reply.raw;
      for (const [name, value] of set) res.setHeader(name, value);
      for (const name of removed) res.removeHeader(name);
      res.setHeader("x-request-id", request.id);
      // A route that chose its own caching keeps it; every other API answer is kept by no browser or proxy.
      if (request.url.startsWith("/api/")) res.setHeader("cache-control", "no-store");
      done();
    });
  },
  { name: "security-headers" },
);
