// Test fixtures: a real app on a fresh, migrated database (PGlite, or PostgreSQL when DATABASE_URL is set).
import { randomUUID } from "node:crypto";
import { createTestDb, type TestDb } from "@mimic/db/testing";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { expect } from "vitest";
import { buildApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";

export const JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-000000";

export interface TestContext {
  app: FastifyInstance;
  db: TestDb;
  close(): Promise<void>;
}

/** A Fastify app (not listening) over its own database. `env` takes environment-style strings. */
export async function createTestApp(
  env: Record<string, string> = {},
  options: { engine?: boolean; db?: TestDb } = {},
): Promise<TestContext> {
  const db = options.db ?? (await createTestDb());
  const config = loadConfig({
    NODE_ENV: "test",
    MIMIC_ALLOW_PRIVATE_TARGETS: "false",
    // Generous budgets: the rate-limit tests set low ones of their own.
    MIMIC_RATE_LIMIT_LOGIN: "10000",
    MIMIC_RATE_LIMIT_USER: "10000",
    MIMIC_RATE_LIMIT_ANON: "10000",
    ...env,
  });
  const app = await buildApp({
    config,
    db,
    jwtSecret: JWT_SECRET,
    logger: false,
    engine: options.engine ?? false,
  });
  return {
    app,
    db,
    async close() {
      await app.close();
      await db.close();
    },
  };
}

export interface TestUser {
  id: string;
  email: string;
  token: string;
  headers: { authorization: string };
}

/** Registers a new user with a unique email and returns its token. */
export async function registerUser(
  app: FastifyInstance,
  password = "correct horse battery",
): Promise<TestUser> {
  const email = `user-${randomUUID()}@example.com`;
  const res = await app.inject({ method: "POST", url: "/api/auth/register", payload: { email, password } });
  expect(res.statusCode, res.body).toBe(201);
  const body = res.json();
  return {
    id: body.user.id,
    email,
    token: body.access_token,
    headers: { authorization: `Bearer ${body.access_token}` },
  };
}

/** Asserts the error envelope of DESIGN.md and returns its `error` object. */
export function expectError(res: LightMyRequestResponse, status: number, code: string) {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers["content-type"]).toMatch(/^application\/json/);
  const body = res.json();
  expect(Object.keys(body)).toEqual(["error"]);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.requestId).toBe(res.headers["x-request-id"]);
  // Nothing internal leaks.
  expect(res.body).not.toMatch(/\bat .*\.(ts|js):\d+|select |insert |from "|drizzle|postgres|pglite/i);
  return body.error as { code: string; message: string; details?: { field: string; message: string }[] };
}
