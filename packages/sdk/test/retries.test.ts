// Retries, timeouts and network failures, against scripted servers on loopback: the real API cannot be made
// to fail on cue. Only GET and HEAD are retried; a POST may already have taken effect.
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  ConnectionError,
  InternalServerError,
  MimicClient,
  RateLimitError,
  ServiceUnavailableError,
  TimeoutError,
} from "../src/index.js";
import { errorBody, HEALTHY, type Stub, startStub } from "./helpers/stub-server.js";

const stubs: Stub[] = [];

afterEach(async () => {
  await Promise.all(stubs.splice(0).map((stub) => stub.close()));
});

async function stub(...answers: Parameters<typeof startStub>[0]) {
  const started = await startStub(answers);
  stubs.push(started);
  return started;
}

const unavailable = { status: 503, body: errorBody("SERVICE_UNAVAILABLE", "The database is unavailable") };

describe("retrying GET requests", () => {
  it("retries 503 with backoff and returns the answer that finally succeeds", async () => {
    const server = await stub(unavailable, unavailable, { status: 200, body: HEALTHY });
    const client = new MimicClient({ baseUrl: server.baseUrl });
    const started = Date.now();
    expect(await client.health.check()).toEqual(HEALTHY);
    expect(server.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "GET /health",
      "GET /health",
      "GET /health",
    ]);
    // Backoff of about 0.5 s then 1 s, each less up to 25 % jitter.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it("gives up after maxRetries and throws the last error", async () => {
    const server = await stub(unavailable);
    const client = new MimicClient({ baseUrl: server.baseUrl, maxRetries: 1 });
    const error = await client.health.check().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(error).toBeInstanceOf(InternalServerError);
    expect(error).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE", requestId: "stub" });
    expect(server.requests).toHaveLength(2);
  });

  it("does not retry when maxRetries is 0, for the client or for one call", async () => {
    const server = await stub(unavailable);
    await expect(
      new MimicClient({ baseUrl: server.baseUrl, maxRetries: 0 }).health.check(),
    ).rejects.toThrow();
    await expect(
      new MimicClient({ baseUrl: server.baseUrl }).health.check({ maxRetries: 0 }),
    ).rejects.toThrow();
    expect(server.requests).toHaveLength(2);
  });

  it("waits as long as a 429's Retry-After says", async () => {
    const server = await stub(
      { status: 429, headers: { "retry-after": "1" }, body: errorBody("RATE_LIMIT_EXCEEDED", "Slow down") },
      { status: 200, body: HEALTHY },
    );
    const client = new MimicClient({ baseUrl: server.baseUrl });
    const started = Date.now();
    expect(await client.health.check()).toEqual(HEALTHY);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(server.requests).toHaveLength(2);
  });

  it("throws RateLimitError at once when X-RateLimit-Reset is further away than the 60 s cap", async () => {
    const reset = Math.floor(Date.now() / 1000) + 3600;
    const server = await stub({
      status: 429,
      headers: { "x-ratelimit-reset": String(reset), "x-ratelimit-remaining": "0" },
      body: errorBody("RATE_LIMIT_EXCEEDED", "Rate limit exceeded"),
    });
    const client = new MimicClient({ baseUrl: server.baseUrl });
    const started = Date.now();
    const error = await client.health.check().catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(500);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfterMs).toBeGreaterThan(3_500_000);
    expect(server.requests).toHaveLength(1);
  });

  it("retries after a timeout, then throws TimeoutError", async () => {
    const server = await stub({ status: 200, hang: true });
    const client = new MimicClient({ baseUrl: server.baseUrl, timeoutMs: 100, maxRetries: 1 });
    const error = await client.health.check().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as TimeoutError).message).toMatch(
      /GET http:\/\/127\.0\.0\.1:\d+\/health timed out after 100 ms/,
    );
    expect(server.requests).toHaveLength(2);
  });

  it("throws ConnectionError when nothing listens", async () => {
    const port = await freePort();
    const client = new MimicClient({ baseUrl: `http://127.0.0.1:${port}`, maxRetries: 0 });
    const error = await client.health.check().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).not.toBeInstanceOf(TimeoutError);
    expect((error as ConnectionError).status).toBeUndefined();
    expect((error as ConnectionError).message).toMatch(/ECONNREFUSED/);
  });

  it("stops retrying as soon as the caller aborts", async () => {
    const server = await stub(unavailable);
    const client = new MimicClient({ baseUrl: server.baseUrl, maxRetries: 5 });
    const controller = new AbortController();
    const pending = client.health.check({ signal: controller.signal });
    setTimeout(() => controller.abort(), 100);
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    expect(server.requests).toHaveLength(1);
  });
});

describe("not retrying other methods", () => {
  it("sends a POST once, even when the server answers 503", async () => {
    const server = await stub(unavailable, { status: 201, body: {} });
    const client = new MimicClient({ baseUrl: server.baseUrl, token: "mk_test" });
    await expect(client.personas.create({ name: "Ivy", prompt: "Impatient" })).rejects.toBeInstanceOf(
      ServiceUnavailableError,
    );
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ method: "POST", url: "/api/personas" });
    expect(server.requests[0]?.headers.authorization).toBe("Bearer mk_test");
    expect(JSON.parse(server.requests[0]?.body ?? "")).toEqual({ name: "Ivy", prompt: "Impatient" });
  });

  it("sends a POST once after a 429 with a short Retry-After", async () => {
    const server = await stub({
      status: 429,
      headers: { "retry-after": "1" },
      body: errorBody("RATE_LIMIT_EXCEEDED", "Slow down"),
    });
    const client = new MimicClient({ baseUrl: server.baseUrl });
    const error = await client.auth.login({ email: "a@example.com", password: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).retryAfterMs).toBe(1000);
    expect(server.requests).toHaveLength(1);
  });

  it("sends a DELETE once on a network failure", async () => {
    const server = await stub({ status: 204, hang: true });
    const client = new MimicClient({ baseUrl: server.baseUrl, timeoutMs: 100 });
    await expect(client.personas.delete("p1")).rejects.toBeInstanceOf(TimeoutError);
    expect(server.requests).toHaveLength(1);
  });
});

/** A port nothing listens on: bound once by the OS, then released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
