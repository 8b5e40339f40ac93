import { personas } from "@mimic/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, expectError, registerUser, type TestContext, type TestUser } from "./helpers.js";

let ctx: TestContext;
let user: TestUser;
beforeAll(async () => {
  ctx = await createTestApp({ MIMIC_BODY_LIMIT: "4096" });
  ctx.app.get("/api/test/crash", async () => {
    throw new Error('relation "users" select password_hash from users where secret');
  });
  user = await registerUser(ctx.app);
});
afterAll(() => ctx.close());

describe("the error envelope", () => {
  it("names the missing field of a schema violation (422)", async () => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/personas",
      headers: user.headers,
      payload: { prompt: "You are a customer." },
    });
    const error = expectError(res, 422, "VALIDATION_ERROR");
    expect(error.message).toBe("Invalid request data");
    expect(error.details).toEqual([{ field: "name", message: "name is required" }]);
  });

  it("names nested fields with dots", async () => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/personas",
      headers: user.headers,
      payload: { name: "P", prompt: "x", config: { messageInterval: -1 } },
    });
    const error = expectError(res, 422, "VALIDATION_ERROR");
    expect(error.details).toEqual([{ field: "config.messageInterval", message: "must be >= 0" }]);
  });

  it("does not coerce body types: a number is not a string", async () => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/personas",
      headers: user.headers,
      payload: { name: 123, prompt: "x" },
    });
    const error = expectError(res, 422, "VALIDATION_ERROR");
    expect(error.details).toEqual([{ field: "name", message: "must be string" }]);
  });

  it("rejects unknown fields instead of silently dropping them", async () => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/personas",
      headers: user.headers,
      payload: { name: "P", prompt: "x", promt: "typo" },
    });
    const error = expectError(res, 422, "VALIDATION_ERROR");
    expect(error.details).toEqual([{ field: "promt", message: "unknown field promt" }]);
  });

  it("coerces and validates query strings", async () => {
    const ok = await ctx.app.inject({
      method: "GET",
      url: "/api/personas?page=1&limit=5",
      headers: user.headers,
    });
    expect(ok.json().pagination).toMatchObject({ page: 1, limit: 5 });
    const bad = await ctx.app.inject({
      method: "GET",
      url: "/api/personas?limit=abc",
      headers: user.headers,
    });
    expect(expectError(bad, 422, "VALIDATION_ERROR").details?.[0]?.field).toBe("limit");
  });

  it("reports a value outside an enumeration once, listing what is allowed", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/api/agents?type=fax", headers: user.headers });
    expect(expectError(res, 422, "VALIDATION_ERROR").details).toEqual([
      { field: "type", message: "must be one of: webhook, websocket, whatsapp, voice" },
    ]);
  });

  it("answers 400 for a body that is not JSON", async () => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/personas",
      headers: { ...user.headers, "content-type": "application/json" },
      payload: '{"name": "P", ',
    });
    expect(expectError(res, 400, "VALIDATION_ERROR").message).toBe("Request body is not valid JSON");
  });

  it("answers 413 for a body over the limit and writes nothing", async () => {
    const before = await ctx.db.db.$count(personas);
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/personas",
      headers: user.headers,
      payload: { name: "P", prompt: "x".repeat(5000) },
    });
    expectError(res, 413, "VALIDATION_ERROR");
    expect(await ctx.db.db.$count(personas)).toBe(before);
  });

  it("answers 415 for a content type it does not read", async () => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/personas",
      headers: { ...user.headers, "content-type": "text/xml" },
      payload: "<persona/>",
    });
    expectError(res, 415, "VALIDATION_ERROR");
  });

  it("answers 404 RESOURCE_NOT_FOUND for unknown routes", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/api/nothing-here?x=1" });
    expect(expectError(res, 404, "RESOURCE_NOT_FOUND").message).toBe("Route GET /api/nothing-here not found");
  });

  it("hides internals behind 500 INTERNAL_ERROR", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/api/test/crash", headers: user.headers });
    const error = expectError(res, 500, "INTERNAL_ERROR");
    expect(error.message).toBe("An unexpected error occurred");
    expect(res.body).not.toContain("password_hash");
  });
});

describe("request ids", () => {
  it("accepts a well-formed X-Request-Id from the client and echoes it in errors", async () => {
    const res = await ctx.app.inject({
      method: "GET",
      url: "/api/personas/nope",
      headers: { ...user.headers, "x-request-id": "ci-run-42.step-7" },
    });
    expect(res.headers["x-request-id"]).toBe("ci-run-42.step-7");
    expect(expectError(res, 404, "RESOURCE_NOT_FOUND").message).toBe("Persona not found");
  });

  it("replaces a malformed one with its own", async () => {
    const res = await ctx.app.inject({
      method: "GET",
      url: "/health",
      headers: { "x-request-id": "bad id <script>" },
    });
    expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("a database outage", () => {
  it("answers 503 SERVICE_UNAVAILABLE and readiness fails", async () => {
    const down = await createTestApp();
    const someone = await registerUser(down.app);
    await down.db.close();
    try {
      const res = await down.app.inject({ method: "GET", url: "/api/personas", headers: someone.headers });
      expectError(res, 503, "SERVICE_UNAVAILABLE");
      const ready = await down.app.inject({ method: "GET", url: "/health/ready" });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toMatchObject({ status: "not_ready", checks: { database: "failing" } });
    } finally {
      await down.app.close();
    }
  });
});
