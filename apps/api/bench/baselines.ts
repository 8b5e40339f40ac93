// What Mimic's authenticated GET /api/personas/{id} is measured against: the same work on a bare Fastify 5 route
// (fast-jwt, the verifier under @fastify/jwt) and on an Express 5 route (jsonwebtoken). Same database handle, same
// HS256 secret and token, same owner-scoped query (getPersona: id and user_id = the token's subject), 401 without
// a valid token, 404 for a missing or foreign persona. No plugins, no hooks, no response schema.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { MimicDb } from "@mimic/db";
import express from "express";
import { createVerifier } from "fast-jwt";
import Fastify from "fastify";
import jsonwebtoken from "jsonwebtoken";
import { AppError } from "../src/errors.js";
import { getPersona } from "../src/modules/personas/service.js";

export interface Baseline {
  name: string;
  url: string;
  close(): Promise<void>;
}

const BEARER_RE = /^Bearer\s+(\S+)\s*$/i;

/** The persona, or the status to answer with (401: no valid token, 404: missing or not the caller's). */
async function lookUp(db: MimicDb, sub: unknown, id: string): Promise<object | 404 | 401> {
  if (typeof sub !== "string") return 401;
  try {
    return await getPersona(db.db, sub, id);
  } catch (error) {
    if (error instanceof AppError && error.statusCode === 404) return 404;
    throw error;
  }
}

const problem = (status: 401 | 404) => ({ error: { code: status === 401 ? "unauthorized" : "not_found" } });

export async function startBareFastify(db: MimicDb, secret: string): Promise<Baseline> {
  const verify = createVerifier({ key: secret, algorithms: ["HS256"] });
  const app = Fastify({ logger: false });
  app.get<{ Params: { id: string } }>("/api/personas/:id", async (request, reply) => {
    const token = BEARER_RE.exec(request.headers.authorization ?? "")?.[1];
    let sub: unknown;
    try {
      sub = token ? (verify(token) as { sub?: unknown }).sub : undefined;
    } catch {
      sub = undefined;
    }
    const found = await lookUp(db, sub, request.params.id);
    if (typeof found === "number") return reply.code(found).send(problem(found));
    return found;
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  return {
    name: "bare Fastify 5 (fast-jwt)",
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`,
    close: () => app.close(),
  };
}

export async function startExpress(db: MimicDb, secret: string): Promise<Baseline> {
  const app = express();
  app.get("/api/personas/:id", async (request, response) => {
    const token = BEARER_RE.exec(request.headers.authorization ?? "")?.[1];
    let sub: unknown;
    try {
      sub = token
        ? (jsonwebtoken.verify(token, secret, { algorithms: ["HS256"] }) as { sub?: unknown }).sub
        : undefined;
    } catch {
      sub = undefined;
    }
    const found = await lookUp(db, sub, request.params.id);
    if (typeof found === "number") response.status(found).json(problem(found));
    else response.json(found);
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, "127.0.0.1", (error) => (error ? reject(error) : resolve(s)));
  });
  return {
    name: "Express 5 (jsonwebtoken)",
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
