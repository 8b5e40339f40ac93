// API keys are for CI: they authenticate until they expire or are revoked, and they cannot mint other keys (a key
// that expires in a day must not be able to create one that never does).
import type { AddressInfo } from "node:net";
import { apiKeys } from "@mimic/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createTestApp, expectError, registerUser, type TestContext, type TestUser } from "./helpers.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(() => ctx.close());

async function createKey(authorization: string, payload: object) {
  return ctx.app.inject({ method: "POST", url: "/api/auth/api-keys", headers: { authorization }, payload });
}

async function keyOf(user: TestUser, payload: object = { name: "ci" }) {
  const res = await createKey(user.headers.authorization, payload);
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; key: string };
}

describe("creating API keys", () => {
  it("needs a login token: an API key gets 403 AUTHORIZATION_ERROR and no key is written", async () => {
    const user = await registerUser(ctx.app);
    const { key } = await keyOf(user, { name: "one day", expiresInDays: 1 });
    for (const payload of [
      { name: "forever" },
      { name: "longer", expiresInDays: 3650 },
      { name: "shorter", expiresInDays: 1 },
    ]) {
      const error = expectError(await createKey(`Bearer ${key}`, payload), 403, "AUTHORIZATION_ERROR");
      expect(error.message).toBe("API keys cannot create API keys; use a login token");
    }
    expect(await ctx.db.db.$count(apiKeys, eq(apiKeys.userId, user.id))).toBe(1);
  });

  it("so a key stops working for good once revoked: nothing it minted outlives it", async () => {
    const user = await registerUser(ctx.app);
    const { id, key } = await keyOf(user, { name: "one day", expiresInDays: 1 });
    expectError(await createKey(`Bearer ${key}`, { name: "forever" }), 403, "AUTHORIZATION_ERROR");
    await ctx.app.inject({ method: "DELETE", url: `/api/auth/api-keys/${id}`, headers: user.headers });
    const list = await ctx.app.inject({ method: "GET", url: "/api/auth/api-keys", headers: user.headers });
    expect(list.json().data).toEqual([]);
    expectError(
      await ctx.app.inject({
        method: "GET",
        url: "/api/agents",
        headers: { authorization: `Bearer ${key}` },
      }),
      401,
      "AUTHENTICATION_ERROR",
    );
  });

  it("documents the 403 in the OpenAPI document", async () => {
    const doc = (await ctx.app.inject({ method: "GET", url: "/openapi.json" })).json();
    expect(doc.paths["/api/auth/api-keys"].post.responses["403"]).toBeDefined();
  });
});

describe("expired API keys", () => {
  it("stop working on every route and on the live-events WebSocket", async () => {
    const user = await registerUser(ctx.app);
    const { id, key } = await keyOf(user, { name: "short", expiresInDays: 1 });
    const bearer = { authorization: `Bearer ${key}` };
    expect((await ctx.app.inject({ method: "GET", url: "/api/agents", headers: bearer })).statusCode).toBe(
      200,
    );
    await ctx.db.db
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiKeys.id, id));
    // Changed in the database, not through this app: the database's notification is what it hears.
    await expect
      .poll(
        async () =>
          (await ctx.app.inject({ method: "GET", url: "/api/auth/me", headers: bearer })).statusCode,
        { timeout: 1000 },
      )
      .toBe(401);
    for (const [method, url] of [
      ["GET", "/api/auth/me"],
      ["GET", "/api/agents"],
      ["GET", "/api/sessions"],
      ["GET", "/api/auth/api-keys"],
      ["POST", "/api/auth/api-keys"],
    ] as const) {
      const res = await ctx.app.inject({
        method,
        url,
        headers: bearer,
        ...(method === "POST" ? { payload: { name: "x" } } : {}),
      });
      expectError(res, 401, "AUTHENTICATION_ERROR");
    }
    await ctx.app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = ctx.app.server.address() as AddressInfo;
    const socket = new WebSocket(`ws://127.0.0.1:${port}/api/ws?token=${encodeURIComponent(key)}`);
    await expect(
      new Promise((resolve, reject) => {
        socket.once("open", resolve);
        socket.once("error", reject);
      }),
    ).rejects.toThrow(/401/);
  });
});
