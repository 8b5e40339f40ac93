import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import type { TestUser } from "../helpers.js";

export async function createPersona(app: FastifyInstance, user: TestUser, body: object = {}) {
  const res = await app.inject({
    method: "POST",
    url: "/api/personas",
    headers: user.headers,
    payload: {
      name: "Late parcel",
      prompt: "You are a customer whose parcel is late. You want to know when it arrives.",
      goal: "get a new delivery date",
      seed: 7,
      ...body,
    },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; name: string };
}

export async function createAgent(
  app: FastifyInstance,
  user: TestUser,
  config: Record<string, unknown>,
  type = "webhook",
) {
  const res = await app.inject({
    method: "POST",
    url: "/api/agents",
    headers: user.headers,
    payload: { name: "Bot under test", type, config },
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string };
}

export interface SessionBody {
  id: string;
  status: string;
  reason: string | null;
  config: Record<string, number>;
  metadata: Record<string, unknown>;
  usage: { promptTokens: number; completionTokens: number };
  messages: {
    id: string;
    senderType: string;
    content: string;
    latencyMs: number | null;
    timestamp: string;
  }[];
}

export async function startSession(app: FastifyInstance, user: TestUser, body: object) {
  const res = await app.inject({
    method: "POST",
    url: "/api/sessions",
    headers: user.headers,
    payload: body,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as SessionBody;
}

export async function getSession(app: FastifyInstance, user: TestUser, id: string): Promise<SessionBody> {
  const res = await app.inject({ method: "GET", url: `/api/sessions/${id}`, headers: user.headers });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

/** Polls until the session has ended (real engine, real time). */
export async function waitForEnd(
  app: FastifyInstance,
  user: TestUser,
  id: string,
  timeoutMs = 20_000,
): Promise<SessionBody> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const session = await getSession(app, user, id);
    if (["completed", "failed", "stopped"].includes(session.status)) return session;
    if (Date.now() > deadline)
      throw new Error(`session still ${session.status} after ${timeoutMs} ms: ${JSON.stringify(session)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Fast engine settings for tests: poll often, allow loopback bots. */
export const ENGINE_ENV = {
  MIMIC_ALLOW_PRIVATE_TARGETS: "true",
  MIMIC_ENGINE_POLL_MS: "20",
  MIMIC_AGENT_TIMEOUT_MS: "2000",
};
