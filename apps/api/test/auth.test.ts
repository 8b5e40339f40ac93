import { createHmac } from "node:crypto";
import { apiKeys, users } from "@mimic/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, expectError, JWT_SECRET, registerUser, type TestContext } from "./helpers.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(() => ctx.close());

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
function craftJwt(payload: object, { secret = JWT_SECRET, alg = "HS256" } = {}) {
  const head = `${b64({ alg, typ: "JWT" })}.${b64(payload)}`;
  if (alg === "none") return `${head}.`;
  return `${head}.${createHmac("sha256", secret).update(head).digest("base64url")}`;
}
const now = () => Math.floor(Date.now() / 1000);
const me = (authorization?: string) =>
  ctx.app.inject({ method: "GET", url: "/api/auth/me", headers: authorization ? { authorization } : {} });

describe("register", () => {
  it("creates a user, hashes the password with argon2id and returns a working token", async () => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { email: "New.User@Example.com", password: "s3cret-password", name: "New User" },
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.user).toMatchObject({ email: "new.user@example.com", name: "New User" });
    expect(body).toMatchObject({ token_type: "bearer", expires_in: 3600 });
    expect(body.user.passwordHash).toBeUndefined();
    const [row] = await ctx.db.db.select().from(users).where(eq(users.id, body.user.id));
    expect(row!.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(row!.passwordHash).not.toContain("s3cret-password");
    const whoami = await me(`Bearer ${body.access_token}`);
    expect(whoami.statusCode).toBe(200);
    expect(whoami.json()).toMatchObject({ id: body.user.id, email: "new.user@example.com" });
  });

  it("refuses a second account for the same email, whatever its case (409)", async () => {
    const user = await registerUser(ctx.app);
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { email: user.email.toUpperCase(), password: "another-password" },
    });
    expectError(res, 409, "CONFLICT");
  });

  it("rejects short passwords and malformed emails with field details (422)", async () => {
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { email: "not-an-email", password: "short" },
    });
    const error = expectError(res, 422, "VALIDATION_ERROR");
    expect(error.details?.map((d) => d.field).sort()).toEqual(["email", "password"]);
  });

  it("answers 403 when registration is disabled", async () => {
    const closed = await createTestApp({ MIMIC_ALLOW_REGISTRATION: "false" });
    try {
      const res = await closed.app.inject({
        method: "POST",
        url: "/api/auth/register",
        payload: { email: "x@example.com", password: "long-enough-password" },
      });
      expectError(res, 403, "AUTHORIZATION_ERROR");
      expect(await closed.db.db.$count(users)).toBe(0);
    } finally {
      await closed.close();
    }
  });
});

describe("the password rule", () => {
  const register = (password: string, email = `pw-${crypto.randomUUID()}@example.com`) =>
    ctx.app.inject({ method: "POST", url: "/api/auth/register", payload: { email, password } });

  it.each([
    ["password", /fewer than 10 characters/],
    ["12345678", /fewer than 10 characters/],
    [" ".repeat(8), /fewer than 10 characters/],
    [" ".repeat(12), /too weak: repeated characters/],
    ["password1234", /too weak: it is too similar to a commonly used password/],
    ["1234567890", /too weak: it is one of the hundred most common passwords/],
    ["qwertyuiop", /too weak/],
    ["abcdefghijkl", /too weak: sequences/],
    ["passwordpassword", /too weak/],
  ])("refuses %j with a 422 naming password and saying why", async (password, why) => {
    const error = expectError(await register(password), 422, "VALIDATION_ERROR");
    expect(error.details).toEqual([{ field: "password", message: expect.stringMatching(why) }]);
  });

  it("refuses a password made of the user's own email", async () => {
    const error = expectError(
      await register("zanzibar-quokka", "zanzibar-quokka@example.com"),
      422,
      "VALIDATION_ERROR",
    );
    expect(error.details?.[0]).toMatchObject({ field: "password", message: expect.stringMatching(/email/) });
  });

  it.each([
    "correct horse battery",
    "long-enough-password",
    "s3cret-password",
    "mimic-demo-password",
  ])("accepts %j", async (password) => {
    expect((await register(password)).statusCode).toBe(201);
  });

  it("writes nothing for a refused password, and says the same for a taken address (no enumeration)", async () => {
    const user = await registerUser(ctx.app);
    const email = `weak-${crypto.randomUUID()}@example.com`;
    const taken = expectError(await register("password1234", user.email), 422, "VALIDATION_ERROR");
    const fresh = expectError(await register("password1234", email), 422, "VALIDATION_ERROR");
    expect(taken).toEqual({ ...fresh, requestId: taken.requestId });
    expect(await ctx.db.db.$count(users, eq(users.email, email))).toBe(0);
  });
});

describe("register and login share one attempt budget per IP", () => {
  it("counts registrations (taken addresses included) and logins together, then answers 429", async () => {
    const limited = await createTestApp({ MIMIC_RATE_LIMIT_LOGIN: "4" });
    try {
      const from = { remoteAddress: "198.51.100.23" };
      const user = await registerUser(limited.app); // another IP: does not count
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await limited.app.inject({
          method: "POST",
          url: "/api/auth/register",
          payload: { email: user.email, password: "correct horse battery" },
          ...from,
        });
        statuses.push(res.statusCode);
      }
      for (let i = 0; i < 2; i++) {
        const res = await limited.app.inject({
          method: "POST",
          url: "/api/auth/login",
          payload: { email: user.email, password: "correct horse battery" },
          ...from,
        });
        statuses.push(res.statusCode);
      }
      expect(statuses).toEqual([409, 409, 409, 200, 429]);
      const blocked = await limited.app.inject({
        method: "POST",
        url: "/api/auth/register",
        payload: { email: `new-${crypto.randomUUID()}@example.com`, password: "correct horse battery" },
        ...from,
      });
      expectError(blocked, 429, "RATE_LIMIT_EXCEEDED");
      expect(blocked.headers["x-ratelimit-limit"]).toBe("4");
    } finally {
      await limited.close();
    }
  });
});

describe("responses that carry a credential", () => {
  it("are never cached and never sniffed: register, login and API-key creation", async () => {
    const email = `cache-${crypto.randomUUID()}@example.com`;
    const registered = await ctx.app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { email, password: "correct horse battery" },
    });
    const login = await ctx.app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { email, password: "correct horse battery" },
    });
    const key = await ctx.app.inject({
      method: "POST",
      url: "/api/auth/api-keys",
      headers: { authorization: `Bearer ${login.json().access_token}` },
      payload: { name: "ci" },
    });
    for (const res of [registered, login, key]) {
      expect(res.statusCode, res.body).toBeLessThan(300);
      expect(res.headers["cache-control"]).toBe("no-store");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
    }
    expect(key.json().key).toMatch(/^mk_/);
  });
});

describe("login", () => {
  it("returns the seed's token shape", async () => {
    const user = await registerUser(ctx.app, "my-password-123");
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { email: user.email, password: "my-password-123" },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body).sort()).toEqual(["access_token", "expires_in", "token_type"]);
    expect(body.token_type).toBe("bearer");
    expect(body.expires_in).toBe(3600);
    const [, payload] = body.access_token.split(".");
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    expect(claims.sub).toBe(user.id);
    expect(claims.exp - claims.iat).toBe(3600);
    expect((await me(`Bearer ${body.access_token}`)).statusCode).toBe(200);
  });

  it("answers a wrong password and an unknown email identically", async () => {
    const user = await registerUser(ctx.app, "my-password-123");
    const wrong = await ctx.app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { email: user.email, password: "not-my-password" },
    });
    const unknown = await ctx.app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { email: "nobody@example.com", password: "not-my-password" },
    });
    const a = expectError(wrong, 401, "AUTHENTICATION_ERROR");
    const b = expectError(unknown, 401, "AUTHENTICATION_ERROR");
    expect(a.message).toBe(b.message);
    expect(a.message).toBe("Invalid email or password");
  });
});

describe("access tokens", () => {
  it("requires a credential on every /api route", async () => {
    for (const url of ["/api/auth/me", "/api/personas", "/api/agents", "/api/auth/api-keys"]) {
      const error = expectError(await ctx.app.inject({ method: "GET", url }), 401, "AUTHENTICATION_ERROR");
      expect(error.message).toBe("Authentication required");
    }
  });

  it("rejects expired tokens", async () => {
    const user = await registerUser(ctx.app);
    const token = craftJwt({ sub: user.id, iat: now() - 7200, exp: now() - 3600 });
    const error = expectError(await me(`Bearer ${token}`), 401, "AUTHENTICATION_ERROR");
    expect(error.message).toBe("Access token expired");
  });

  it("refuses a token once it expires, though it was accepted (and remembered) before", async () => {
    const user = await registerUser(ctx.app);
    const token = craftJwt({ sub: user.id, iat: now(), exp: now() + 2 });
    expect((await me(`Bearer ${token}`)).statusCode).toBe(200);
    expect((await me(`Bearer ${token}`)).statusCode).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const error = expectError(await me(`Bearer ${token}`), 401, "AUTHENTICATION_ERROR");
    expect(error.message).toBe("Access token expired");
  });

  it("rejects tampered tokens, foreign secrets and alg=none", async () => {
    const user = await registerUser(ctx.app);
    const other = await registerUser(ctx.app);
    const [h, , s] = user.token.split(".");
    const tampered = `${h}.${b64({ sub: other.id, iat: now(), exp: now() + 3600 })}.${s}`;
    const foreign = craftJwt(
      { sub: user.id, iat: now(), exp: now() + 3600 },
      { secret: "another-secret-".repeat(4) },
    );
    const none = craftJwt({ sub: user.id, iat: now(), exp: now() + 3600 }, { alg: "none" });
    for (const token of [tampered, foreign, none, "garbage", `${user.token}x`]) {
      expectError(await me(`Bearer ${token}`), 401, "AUTHENTICATION_ERROR");
    }
    expect((await me(user.headers.authorization)).statusCode).toBe(200);
  });

  it("stops accepting the tokens of a deleted user within a second", async () => {
    const user = await registerUser(ctx.app);
    expect((await me(user.headers.authorization)).statusCode).toBe(200);
    // Deleted in the database, not through this app: the database's notification is what it hears.
    await ctx.db.db.delete(users).where(eq(users.id, user.id));
    await expect
      .poll(async () => (await me(user.headers.authorization)).statusCode, { timeout: 1000 })
      .toBe(401);
    expectError(await me(user.headers.authorization), 401, "AUTHENTICATION_ERROR");
  });
});

describe("the static test token", () => {
  it("is refused unless MIMIC_TEST_TOKEN is set", async () => {
    expectError(await me("Bearer test-token-123"), 401, "AUTHENTICATION_ERROR");
  });

  it("authenticates as the test user when MIMIC_TEST_TOKEN is set", async () => {
    const withToken = await createTestApp({ MIMIC_TEST_TOKEN: "test-token-123" });
    try {
      const res = await withToken.app.inject({
        method: "POST",
        url: "/api/personas",
        headers: { authorization: "Bearer test-token-123" },
        payload: { name: "Seed persona", prompt: "You are a customer." },
      });
      expect(res.statusCode).toBe(201);
      const whoami = await withToken.app.inject({
        method: "GET",
        url: "/api/auth/me",
        headers: { authorization: "Bearer test-token-123" },
      });
      expect(whoami.json().email).toBe("test-user@mimic.local");
      expectError(
        await withToken.app.inject({
          method: "GET",
          url: "/api/auth/me",
          headers: { authorization: "Bearer test-token-124" },
        }),
        401,
        "AUTHENTICATION_ERROR",
      );
    } finally {
      await withToken.close();
    }
  });
});

describe("API keys", () => {
  it("shows the key once, stores only its hash, authenticates with it, and stops after revocation", async () => {
    const user = await registerUser(ctx.app);
    const created = await ctx.app.inject({
      method: "POST",
      url: "/api/auth/api-keys",
      headers: user.headers,
      payload: { name: "ci", expiresInDays: 30 },
    });
    expect(created.statusCode).toBe(201);
    const { key, id, prefix, expiresAt } = created.json();
    expect(key).toMatch(/^mk_[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(prefix)).toBe(true);
    expect(new Date(expiresAt).getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    const [row] = await ctx.db.db.select().from(apiKeys).where(eq(apiKeys.id, id));
    expect(JSON.stringify(row)).not.toContain(key);

    const list = await ctx.app.inject({ method: "GET", url: "/api/auth/api-keys", headers: user.headers });
    expect(list.json().data).toHaveLength(1);
    expect(list.json().data[0]).toMatchObject({ id, name: "ci", prefix });
    expect(list.body).not.toContain(key);

    const viaKey = await me(`Bearer ${key}`);
    expect(viaKey.statusCode).toBe(200);
    expect(viaKey.json().id).toBe(user.id);
    const [used] = await ctx.db.db.select().from(apiKeys).where(eq(apiKeys.id, id));
    expect(used!.lastUsedAt).not.toBeNull();

    const revoked = await ctx.app.inject({
      method: "DELETE",
      url: `/api/auth/api-keys/${id}`,
      headers: user.headers,
    });
    expect(revoked.statusCode).toBe(204);
    const error = expectError(await me(`Bearer ${key}`), 401, "AUTHENTICATION_ERROR");
    expect(error.message).toBe("Invalid or revoked API key");
  });

  it("answers 404 when revoking another user's key, which keeps working", async () => {
    const owner = await registerUser(ctx.app);
    const intruder = await registerUser(ctx.app);
    const { id, key } = (
      await ctx.app.inject({
        method: "POST",
        url: "/api/auth/api-keys",
        headers: owner.headers,
        payload: { name: "k" },
      })
    ).json();
    const res = await ctx.app.inject({
      method: "DELETE",
      url: `/api/auth/api-keys/${id}`,
      headers: intruder.headers,
    });
    expectError(res, 404, "RESOURCE_NOT_FOUND");
    const intruderList = await ctx.app.inject({
      method: "GET",
      url: "/api/auth/api-keys",
      headers: intruder.headers,
    });
    expect(intruderList.json().data).toEqual([]);
    expect((await me(`Bearer ${key}`)).statusCode).toBe(200);
  });

  it("rejects expired keys", async () => {
    const user = await registerUser(ctx.app);
    const { id, key } = (
      await ctx.app.inject({
        method: "POST",
        url: "/api/auth/api-keys",
        headers: user.headers,
        payload: { name: "old" },
      })
    ).json();
    await ctx.db.db
      .update(apiKeys)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(apiKeys.id, id));
    expectError(await me(`Bearer ${key}`), 401, "AUTHENTICATION_ERROR");
  });
});
