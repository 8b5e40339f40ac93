// The SDK against a real API server on loopback: every call goes over HTTP to Fastify and the database.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuthenticationError,
  ConflictError,
  MimicClient,
  MimicError,
  NotFoundError,
  type Persona,
  RateLimitError,
  ValidationError,
} from "../src/index.js";
import { PASSWORD, signUp, startApi, type TestApi, uniqueEmail } from "./helpers/api.js";

let api: TestApi;

beforeAll(async () => {
  api = await startApi();
});

afterAll(async () => {
  await api?.close();
});

const MISSING_ID = "00000000-0000-4000-8000-000000000000";

const personaInput = (name: string) => ({ name, prompt: `You are ${name}, a customer who wants a refund.` });

const webhookAgent = {
  name: "Bot",
  type: "webhook" as const,
  config: { webhook_url: "https://bot.example.com/hook", secret: "whsec_1234567890" },
};

describe("authentication", () => {
  it("registers, logs in, and uses the token login returns", async () => {
    const client = new MimicClient({ baseUrl: api.baseUrl });
    const email = uniqueEmail();
    const registration = await client.auth.register({ email, password: PASSWORD, name: "Ada" });
    expect(registration).toMatchObject({ token_type: "bearer", user: { email, name: "Ada" } });

    const token = await client.auth.login({ email, password: PASSWORD });
    expect(token).toEqual({ access_token: expect.any(String), token_type: "bearer", expires_in: 3600 });
    client.setToken(token.access_token);
    expect(await client.auth.me()).toEqual(registration.user);
  });

  it("asks a token function before every request, awaiting it when it is async", async () => {
    const { token, user } = await signUp(api.baseUrl);
    let asked = 0;
    const client = new MimicClient({
      baseUrl: api.baseUrl,
      token: async () => {
        asked++;
        await new Promise((resolve) => setTimeout(resolve, 1));
        return token;
      },
    });
    expect((await client.auth.me()).id).toBe(user.id);
    expect((await client.auth.me()).id).toBe(user.id);
    expect(asked).toBe(2);
  });

  it("throws AuthenticationError without a token", async () => {
    const client = new MimicClient({ baseUrl: api.baseUrl });
    const error = await client.personas.list().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toBeInstanceOf(MimicError);
    expect(error).toMatchObject({
      name: "AuthenticationError",
      status: 401,
      code: "AUTHENTICATION_ERROR",
      message: "Authentication required",
    });
  });

  it("throws AuthenticationError for an invalid token, and for a wrong password", async () => {
    const client = new MimicClient({ baseUrl: api.baseUrl, token: "not-a-jwt" });
    await expect(client.auth.me()).rejects.toMatchObject({
      constructor: AuthenticationError,
      message: "Invalid access token",
    });
    const { email } = await signUp(api.baseUrl);
    await expect(client.auth.login({ email, password: "wrong password" })).rejects.toBeInstanceOf(
      AuthenticationError,
    );
  });

  it("throws ConflictError when the email is taken", async () => {
    const { client, email } = await signUp(api.baseUrl);
    await expect(client.auth.register({ email, password: PASSWORD })).rejects.toMatchObject({
      constructor: ConflictError,
      status: 409,
      code: "CONFLICT",
    });
  });

  it("lets a per-call Authorization header override the client's token", async () => {
    const alice = await signUp(api.baseUrl);
    const bob = await signUp(api.baseUrl);
    const me = await alice.client.auth.me({ headers: { Authorization: `Bearer ${bob.token}` } });
    expect(me.id).toBe(bob.user.id);
  });
});

describe("API keys", () => {
  it("creates a key shown once, authenticates with it, and stops working once revoked", async () => {
    const { client, user } = await signUp(api.baseUrl);
    const created = await client.apiKeys.create({ name: "github-actions" });
    expect(created.key).toMatch(/^mk_/);
    expect(created).toMatchObject({ name: "github-actions", expiresAt: null, lastUsedAt: null });
    expect(created.key.startsWith(created.prefix)).toBe(true);

    const ci = new MimicClient({ baseUrl: api.baseUrl, token: created.key });
    expect((await ci.auth.me()).id).toBe(user.id);

    const page = await client.apiKeys.list();
    expect(page.data.map((k) => k.id)).toEqual([created.id]);
    expect(page.data[0]).not.toHaveProperty("key");

    await client.apiKeys.revoke(created.id);
    await expect(ci.auth.me()).rejects.toMatchObject({
      constructor: AuthenticationError,
      message: "Invalid or revoked API key",
    });
    await expect(client.apiKeys.revoke(created.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe("personas", () => {
  it("creates, reads, lists, updates and deletes a persona", async () => {
    const { client } = await signUp(api.baseUrl);
    const created = await client.personas.create({
      ...personaInput("Impatient Ivy"),
      traits: { patience_level: "low" },
      config: { maxMessages: 12 },
    });
    expect(created).toMatchObject({
      name: "Impatient Ivy",
      traits: { patience_level: "low" },
      config: { maxMessages: 12 },
    });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);

    expect(await client.personas.get(created.id)).toEqual(created);

    const page = await client.personas.list();
    expect(page.data).toEqual([created]);
    expect(page.pagination).toEqual({ page: 1, limit: 20, total: 1, pages: 1 });

    const updated = await client.personas.update(created.id, { name: "Calm Ivy" });
    expect(updated).toMatchObject({ id: created.id, name: "Calm Ivy", prompt: created.prompt });
    expect((await client.personas.get(created.id)).name).toBe("Calm Ivy");

    await expect(client.personas.delete(created.id)).resolves.toBeUndefined();
    await expect(client.personas.get(created.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await client.personas.list()).data).toEqual([]);
  });

  it("hides another user's persona behind NotFoundError", async () => {
    const owner = await signUp(api.baseUrl);
    const other = await signUp(api.baseUrl);
    const persona = await owner.client.personas.create(personaInput("Private Pat"));
    await expect(other.client.personas.get(persona.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.client.personas.delete(persona.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await owner.client.personas.get(persona.id)).id).toBe(persona.id);
  });
});

describe("agents", () => {
  it("creates an agent with its secret masked, filters, updates and deletes it", async () => {
    const { client } = await signUp(api.baseUrl);
    const agent = await client.agents.create(webhookAgent);
    expect(agent).toMatchObject({
      name: "Bot",
      type: "webhook",
      status: "active",
      config: { webhook_url: "https://bot.example.com/hook", secret: "****7890" },
    });
    await client.agents.create({
      name: "Socket bot",
      type: "websocket",
      config: { url: "wss://bot.example.com/ws" },
    });

    const webhooks = await client.agents.list({ type: "webhook" });
    expect(webhooks.data.map((a) => a.id)).toEqual([agent.id]);
    expect(webhooks.pagination.total).toBe(1);
    expect((await client.agents.list()).pagination.total).toBe(2);

    const updated = await client.agents.update(agent.id, { status: "inactive" });
    expect(updated).toMatchObject({ id: agent.id, status: "inactive", config: { secret: "****7890" } });
    expect(await client.agents.get(agent.id)).toEqual(updated);

    await client.agents.delete(agent.id);
    await expect(client.agents.get(agent.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe("errors", () => {
  it("throws NotFoundError with the API's code, message and request id", async () => {
    const { client } = await signUp(api.baseUrl);
    const error = await client.personas.get(MISSING_ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    const notFound = error as NotFoundError;
    expect(notFound).toMatchObject({ status: 404, code: "RESOURCE_NOT_FOUND", message: "Persona not found" });
    expect(notFound.requestId).toEqual(expect.any(String));
    expect(notFound.requestId).toBe(notFound.headers.get("x-request-id"));
  });

  it("throws ValidationError whose details name the offending fields", async () => {
    const { client } = await signUp(api.baseUrl);
    const error = await client.personas
      // @ts-expect-error: `prompt` is required; the server must say so too.
      .create({ name: "" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const invalid = error as ValidationError;
    expect(invalid).toMatchObject({ status: 422, code: "VALIDATION_ERROR" });
    expect(invalid.details.map((d) => d.field)).toEqual(expect.arrayContaining(["name", "prompt"]));
  });

  it("throws ValidationError for a query parameter out of range", async () => {
    const { client } = await signUp(api.baseUrl);
    const error = await client.personas.list({ limit: 101 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).details.map((d) => d.field)).toContain("limit");
  });

  it("refuses an empty id before sending anything", async () => {
    const { client } = await signUp(api.baseUrl);
    await expect(client.personas.get("")).rejects.toThrow(/path parameter id/);
    await expect(client.personas.get("..")).rejects.toBeInstanceOf(TypeError);
  });
});

describe("pagination", () => {
  it("iterates every item of every page in the server's order, newest first, without duplicates", async () => {
    const { token } = await signUp(api.baseUrl);
    const listRequests: string[] = [];
    const client = new MimicClient({
      baseUrl: api.baseUrl,
      token,
      fetch: (input, init) => {
        if (init.method === "GET") listRequests.push(new URL(input).search);
        return fetch(input, init);
      },
    });
    const created: Persona[] = [];
    for (let i = 0; i < 25; i++) created.push(await client.personas.create(personaInput(`Persona ${i}`)));

    const first = await client.personas.list({ limit: 10 });
    expect(first.data).toHaveLength(10);
    expect(first.pagination).toEqual({ page: 1, limit: 10, total: 25, pages: 3 });

    listRequests.length = 0;
    const seen: Persona[] = [];
    for await (const persona of client.personas.list({ limit: 10 })) seen.push(persona);
    expect(seen.map((p) => p.name)).toEqual(created.map((p) => p.name).reverse());
    expect(new Set(seen.map((p) => p.id)).size).toBe(25);
    expect(listRequests).toEqual(["?limit=10&page=1", "?limit=10&page=2", "?limit=10&page=3"]);
  });

  it("walks pages with pages(), starting from the page asked for", async () => {
    const { client } = await signUp(api.baseUrl);
    for (let i = 0; i < 5; i++) await client.personas.create(personaInput(`P${i}`));
    const sizes: number[] = [];
    for await (const page of client.personas.list({ limit: 2, page: 2 }).pages())
      sizes.push(page.data.length);
    expect(sizes).toEqual([2, 1]);
  });

  it("ends at once on an empty list", async () => {
    const { client } = await signUp(api.baseUrl);
    const items: unknown[] = [];
    for await (const agent of client.agents.list()) items.push(agent);
    expect(items).toEqual([]);
  });
});

describe("health", () => {
  it("reports liveness and readiness without a token", async () => {
    const client = new MimicClient({ baseUrl: api.baseUrl });
    expect(await client.health.check()).toMatchObject({ status: "ok" });
    expect(await client.health.ready()).toMatchObject({
      status: "ready",
      checks: { database: "ok", migrations: "ok" },
    });
  });
});

describe("rate limits", () => {
  it("throws RateLimitError at once when the server asks to wait longer than the retry cap", async () => {
    const limited = await startApi({ MIMIC_RATE_LIMIT_USER: "2" }, api.db);
    try {
      const { client } = await signUp(limited.baseUrl);
      await client.auth.me();
      await client.auth.me();
      const started = Date.now();
      const error = await client.auth.me().catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(error).toBeInstanceOf(RateLimitError);
      const rateLimited = error as RateLimitError;
      expect(rateLimited).toMatchObject({ status: 429, code: "RATE_LIMIT_EXCEEDED" });
      // The hourly window: far beyond the 60 s the SDK would wait.
      expect(rateLimited.retryAfterMs).toBeGreaterThan(60_000);
      expect(rateLimited.headers.get("x-ratelimit-remaining")).toBe("0");
    } finally {
      await limited.close();
    }
  });
});
