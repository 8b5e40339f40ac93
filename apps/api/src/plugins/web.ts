// The dashboard (apps/web's Vite build) on the API's own origin: hashed assets cached for good, and index.html for
// `/` and every page path the SPA routes itself (/sessions/…), so deep links and reloads work. Unknown paths of the
// API and its documents stay JSON 404s.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export interface WebOptions {
  /** The build: index.html, assets/ and the files of public/. */
  root: string;
}

/** What the server answers itself: an unknown path under these is a JSON 404, never the SPA. */
const SERVER_PREFIXES = [
  "/api",
  "/health",
  "/docs",
  "/metrics",
  "/whatsapp",
  "/openapi.json",
  "/asyncapi.json",
];

// The SPA's policy, replacing the API's `default-src 'none'` on its responses: everything from this origin, API
// calls and live events (ws: on the same host) included; nothing inline, no frames.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "img-src 'self' data:",
  // A voice call turn's audio is fetched with the user's token and played from a blob: URL.
  "media-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** A page of the SPA: a GET for a path outside the server's own, whose last segment is no file name. */
export function isPagePath(url: string): boolean {
  const path = url.split("?")[0] ?? "/";
  if (SERVER_PREFIXES.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) return false;
  return !(path.split("/").pop() ?? "").includes(".");
}

/** Whether `root` holds a build to serve. */
export const hasWebBuild = (root: string) => existsSync(join(root, "index.html"));

export async function webRoutes(app: FastifyInstance, { root }: WebOptions): Promise<void> {
  // Only reply.sendFile (ranges, ETags, no path traversal): the routes are ours, so they can skip the rate limit
  // that would otherwise count every asset against an anonymous visitor's hourly budget.
  await app.register(fastifyStatic, { root, serve: false });
  const route = { schema: { hide: true }, config: { public: true, rateLimit: false } } as const;
  const index = (reply: FastifyReply) =>
    reply
      .header("content-security-policy", CONTENT_SECURITY_POLICY)
      .header("cache-control", "no-cache")
      .sendFile("index.html", { cacheControl: false });

  app.get("/", route, (_request, reply) => index(reply));
  // Vite names them by content hash: a new build has new names.
  app.get("/assets/*", route, (request: FastifyRequest<{ Params: { "*": string } }>, reply) =>
    reply.sendFile(`assets/${request.params["*"]}`, { maxAge: "365d", immutable: true }),
  );
  // public/ (favicon …): copied to the build's root under fixed names.
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name === "index.html") continue;
    app.get(`/${entry.name}`, route, (_request, reply) => reply.sendFile(entry.name, { maxAge: "1h" }));
  }
  app.get("/*", route, (request, reply) => (isPagePath(request.url) ? index(reply) : reply.callNotFound()));
}
