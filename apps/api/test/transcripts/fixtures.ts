// Fixtures for the transcript and analytics suites: an app without the engine (sessions stay `pending`), a user
// with a persona and a webhook agent, and direct inserts for datasets whose figures the tests compute by hand.
import { randomUUID } from "node:crypto";
import { messages, type NewSession, type SessionResult, sessions } from "@mimic/db";
import type { SQL } from "drizzle-orm";
import type { FastifyInstance, InjectOptions } from "fastify";
import { expect } from "vitest";
import { createAgent, createPersona, startSession } from "../engine/fixtures.js";
import { registerUser, type TestContext, type TestUser } from "../helpers.js";

export const BOT_URL = "https://bot.example.com/hook";

export interface Owner {
  user: TestUser;
  persona: { id: string; name: string };
  agent: { id: string };
}

/** A user with one persona and one webhook agent. */
export async function createOwner(app: FastifyInstance, agentConfig: Record<string, unknown> = {}) {
  const user = await registerUser(app);
  const persona = await createPersona(app, user);
  const agent = await createAgent(app, user, { webhook_url: BOT_URL, ...agentConfig });
  return { user, persona, agent } satisfies Owner;
}

/** A pending session of `owner`, created through the API. */
export async function newSession(app: FastifyInstance, owner: Owner, extra: object = {}) {
  return startSession(app, owner.user, {
    agentId: owner.agent.id,
    personaId: owner.persona.id,
    ...extra,
  });
}

/** `app.inject` as `user`, with a JSON body when one is given. */
export function as(app: FastifyInstance, user: TestUser | undefined) {
  const call = (method: InjectOptions["method"], url: string, payload?: object, headers = {}) =>
    app.inject({
      method,
      url,
      headers: { ...(user ? user.headers : {}), ...headers },
      ...(payload ? { payload } : {}),
    });
  return {
    get: (url: string) => call("GET", url),
    post: (url: string, payload: object, headers: Record<string, string> = {}) =>
      call("POST", url, payload, headers),
    patch: (url: string, payload: object) => call("PATCH", url, payload),
  };
}

/** GET that must answer 200; returns the parsed body. */
export async function getJson<T = Record<string, unknown>>(
  app: FastifyInstance,
  user: TestUser,
  url: string,
): Promise<T> {
  const res = await as(app, user).get(url);
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as T;
}

export const SESSION_CONFIG = { duration: 300, maxMessages: 50, messageInterval: 5, replyTimeout: 30 };

/** A session row written directly (explicit times, status and verdict). Returns its id. */
export async function insertSession(
  ctx: TestContext,
  owner: { userId: string; agentId: string; personaId: string },
  values: Partial<Omit<NewSession, "userId" | "agentId" | "personaId">> = {},
): Promise<string> {
  const id = randomUUID();
  await ctx.db.db.insert(sessions).values({ id, config: SESSION_CONFIG, ...owner, ...values });
  return id;
}

export const verdict = (passed: boolean): SessionResult => ({ passed, checks: [] });

export interface MessageRow {
  senderType: "persona" | "agent" | "system";
  content: string;
  /** A Date (milliseconds), SQL (e.g. a microsecond literal), or omitted: the database's now(). */
  timestamp?: Date | SQL;
  latencyMs?: number | null;
  id?: string;
}

/**
 * Messages written directly, in insertion order (which breaks ties between equal timestamps); each chunk of
 * `chunk` rows is one statement.
 */
export async function insertMessages(ctx: TestContext, sessionId: string, rows: MessageRow[], chunk = 1000) {
  const values = rows.map((r) => ({
    id: r.id ?? randomUUID(),
    sessionId,
    senderType: r.senderType,
    content: r.content,
    ...(r.timestamp ? { timestamp: r.timestamp } : {}),
    latencyMs: r.latencyMs ?? null,
  }));
  // Chunks keep each statement well under PostgreSQL's parameter limit; order is kept.
  for (let i = 0; i < values.length; i += chunk)
    await ctx.db.db.insert(messages).values(values.slice(i, i + chunk));
  return values.map((v) => v.id);
}
