// Who is calling: a JWT from /api/auth/login, an API key (`mk_…`), or the static test token when configured.
// The onRequest hook identifies every request's caller and fails none; `requireAuth` turns a missing identity into
// a 401.
// Users and keys are read through a per-process cache the database invalidates (lib/credential-cache.ts): a
// deleted user or a revoked key loses access within a notification's delay, in every process.
import fastifyJwt from "@fastify/jwt";
import { apiKeys, type MimicDb, users } from "@mimic/db";
import { and, eq, gt, isNull, or, sql } from "drizzle-orm";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { unauthenticated } from "../errors.js";
import { API_KEY_PREFIX, hashApiKey } from "../lib/api-key-tokens.js";
import { type CachedApiKey, CredentialCache } from "../lib/credential-cache.js";
import { hashPassword } from "../lib/passwords.js";
import { safeEqual } from "../lib/safe-equal.js";
import { UUID_RE } from "../lib/schemas.js";

export interface AuthUser {
  id: string;
  email: string;
  name: string | null;
  createdAt: Date;
}

export interface Principal {
  user: AuthUser;
  via: "jwt" | "api_key" | "test_token";
  apiKeyId?: string;
}

declare module "fastify" {
  interface FastifyRequest {
    auth: Principal | null;
    /** Set when a credential was presented but rejected, to explain the 401. */
    authProblem: string | null;
  }
  interface FastifyInstance {
    requireAuth: (request: FastifyRequest) => Promise<void>;
    signAccessToken: (userId: string) => string;
    /** The principal a bearer token stands for now (null once expired, revoked or its user deleted). */
    authenticateToken: (token: string) => Promise<Principal | null>;
    /** Forgets what this process holds for a user's credentials (other processes hear it from the database). */
    forgetCredentials: (userId: string) => void;
  }
}

export const TEST_USER_EMAIL = "test-user@mimic.local";

const userColumns = { id: users.id, email: users.email, name: users.name, createdAt: users.createdAt };

/** Users and API keys held per process; a cap keeps memory bounded whatever the number of callers. */
export const CREDENTIAL_CACHE_SIZE = 10_000;
/** A key's last use is recorded at most this often: a write on every request would be wasteful. */
const LAST_USED_EVERY_MS = 60_000;

interface Outcome {
  principal: Principal | null;
  /** Why a presented credential was refused. */
  problem: string | null;
}
const fail = (problem: string): Outcome => ({ principal: null, problem });
const ok = (principal: Principal): Outcome => ({ principal, problem: null });

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match?.[1];
  }
  // Browsers cannot set headers on WebSocket upgrades: the live-events route accepts ?token=.
  if (request.headers.upgrade?.toLowerCase() === "websocket") {
    const token = (request.query as Record<string, unknown> | undefined)?.token;
    return typeof token === "string" && token ? token : undefined;
  }
  return undefined;
}

export default fp(
  async (app: FastifyInstance, opts: { config: Config; db: MimicDb; jwtSecret: string }) => {
    const { db } = opts.db;
    await app.register(fastifyJwt, {
      secret: opts.jwtSecret,
      sign: { algorithm: "HS256", expiresIn: opts.config.jwt.expiresIn },
      // @fastify/jwt accepts every algorithm unless told otherwise.
      // Verified tokens are remembered (fast-jwt's LRU, never past a token's own expiry): a client sends the same
      // token with every request, and checking its HMAC again each time is most of what authentication costs.
      // Whether its user still exists is asked of the credential cache on every request all the same.
      verify: { algorithms: ["HS256"], cache: 10_000 },
    });

    app.decorateRequest("auth", null);
    app.decorateRequest("authProblem", null);
    app.decorate("signAccessToken", (userId: string) => app.jwt.sign({ sub: userId }));

    let testUser: Promise<AuthUser> | undefined;
    const ensureTestUser = () => {
      testUser ??= (async () => {
        const [existing] = await db.select(userColumns).from(users).where(eq(users.email, TEST_USER_EMAIL));
        if (existing) return existing;
        const [created] = await db
          .insert(users)
          .values({
            email: TEST_USER_EMAIL,
            name: "Test user",
            passwordHash: await hashPassword(crypto.randomUUID()),
          })
          .onConflictDoNothing()
          .returning(userColumns);
        return (
          created ?? (await db.select(userColumns).from(users).where(eq(users.email, TEST_USER_EMAIL)))[0]!
        );
      })();
      testUser.catch(() => {
        testUser = undefined;
      });
      return testUser;
    };

    const cache = new CredentialCache<AuthUser>(CREDENTIAL_CACHE_SIZE);
    app.addHook("onReady", async () => {
      await cache.start(opts.db);
    });
    app.addHook("onClose", async () => {
      await cache.stop();
    });
    app.decorate("forgetCredentials", (userId: string) => cache.forgetUser(userId));

    async function loadUser(id: string): Promise<AuthUser | undefined> {
      const [row] = await db.select(userColumns).from(users).where(eq(users.id, id));
      return row;
    }

    /** A key that may still be valid (expiry is the caller's to check), with its user. */
    async function loadApiKey(hash: string): Promise<CachedApiKey<AuthUser> | undefined> {
      const [row] = await db
        .select({
          ...userColumns,
          keyId: apiKeys.id,
          expiresAt: apiKeys.expiresAt,
          lastUsedAt: apiKeys.lastUsedAt,
        })
        .from(apiKeys)
        .innerJoin(users, eq(users.id, apiKeys.userId))
        .where(
          and(eq(apiKeys.keyHash, hash), or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, new Date()))),
        );
      if (!row) return undefined;
      const { keyId, expiresAt, lastUsedAt, ...user } = row;
      return { keyId, expiresAt, lastUsedAt, user };
    }

    /** Who a bearer token stands for, or why it stands for no one. */
    async function authenticateToken(token: string): Promise<Outcome> {
      if (opts.config.testToken && safeEqual(token, opts.config.testToken)) {
        return ok({ user: await ensureTestUser(), via: "test_token" });
      }
      if (token.startsWith(API_KEY_PREFIX)) {
        const hash = hashApiKey(token);
        const key = await cache.through(cache.keys, hash, loadApiKey);
        const now = Date.now();
        // Expiry is checked at each use: an expired key is refused on time, with or without a notification.
        if (!key || (key.expiresAt && key.expiresAt.getTime() <= now)) {
          if (key) cache.keys.delete(hash);
          return fail("Invalid or revoked API key");
        }
        if (!key.lastUsedAt || now - key.lastUsedAt.getTime() > LAST_USED_EVERY_MS) {
          // Set first, so that the requests arriving meanwhile do not write it again.
          key.lastUsedAt = new Date(now);
          await db.update(apiKeys).set({ lastUsedAt: sql`now()` }).where(eq(apiKeys.id, key.keyId));
        }
        return ok({ user: key.user, via: "api_key", apiKeyId: key.keyId });
      }
      let sub: unknown;
      try {
        sub = (app.jwt.verify(token) as { sub?: unknown }).sub;
      } catch (error) {
        const code = (error as { code?: string }).code;
        return fail(code === "FAST_JWT_EXPIRED" ? "Access token expired" : "Invalid access token");
      }
      if (typeof sub !== "string" || !UUID_RE.test(sub)) return fail("Invalid access token");
      // Tokens of deleted users stop working: the cache forgets them when the database says so. Keyed as the
      // database spells the id (and as it announces it), whatever the case in the token.
      const user = await cache.through(cache.users, sub.toLowerCase(), loadUser);
      if (!user) return fail("Invalid access token");
      return ok({ user, via: "jwt" });
    }

    app.decorate("authenticateToken", async (token: string) => (await authenticateToken(token)).principal);

    // Identifies the caller of every request; a callback, not an async hook: one promise less on every request.
    app.addHook("onRequest", (request, _reply, done) => {
      const token = bearerToken(request);
      if (!token) return done();
      authenticateToken(token).then(({ principal, problem }) => {
        request.auth = principal;
        request.authProblem = problem;
        done();
      }, done);
    });

    app.decorate("requireAuth", async (request: FastifyRequest) => {
      if (!request.auth) throw unauthenticated(request.authProblem ?? "Authentication required");
    });
  },
  { name: "auth" },
);

/** The authenticated user of a request that passed `requireAuth`. */
export function userOf(request: FastifyRequest): AuthUser {
  if (!request.auth) throw unauthenticated();
  return request.auth.user;
}
