// Who is calling: a JWT from /api/auth/login, an API key (`mk_…`), or the static test token when configured.
// `identify` runs on every request and never fails; `requireAuth` turns a missing identity into a 401.
import fastifyJwt from "@fastify/jwt";
import { apiKeys, type MimicDb, users } from "@mimic/db";
import { and, eq, gt, isNull, or, sql } from "drizzle-orm";
import type { FastifyInstance, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { Config } from "../config.js";
import { unauthenticated } from "../errors.js";
import { API_KEY_PREFIX, hashApiKey } from "../lib/api-key-tokens.js";
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
  }
}

export const TEST_USER_EMAIL = "test-user@mimic.local";

const userColumns = { id: users.id, email: users.email, name: users.name, createdAt: users.createdAt };

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
      verify: { algorithms: ["HS256"] },
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

    async function identify(request: FastifyRequest): Promise<Principal | null> {
      const token = bearerToken(request);
      if (!token) return null;
      const { principal, problem } = await authenticateToken(token);
      request.authProblem = problem;
      return principal;
    }

    /** Who a bearer token stands for, or why it stands for no one. */
    async function authenticateToken(
      token: string,
    ): Promise<{ principal: Principal | null; problem: string | null }> {
      const fail = (problem: string) => ({ principal: null, problem });
      const ok = (principal: Principal) => ({ principal, problem: null });
      if (opts.config.testToken && safeEqual(token, opts.config.testToken)) {
        return ok({ user: await ensureTestUser(), via: "test_token" });
      }
      if (token.startsWith(API_KEY_PREFIX)) {
        const now = new Date();
        const [row] = await db
          .select({ ...userColumns, keyId: apiKeys.id, lastUsedAt: apiKeys.lastUsedAt })
          .from(apiKeys)
          .innerJoin(users, eq(users.id, apiKeys.userId))
          .where(
            and(
              eq(apiKeys.keyHash, hashApiKey(token)),
              or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, now)),
            ),
          );
        if (!row) return fail("Invalid or revoked API key");
        // Record use at most once a minute per key: a write on every request would be wasteful.
        if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > 60_000) {
          await db.update(apiKeys).set({ lastUsedAt: sql`now()` }).where(eq(apiKeys.id, row.keyId));
        }
        const { keyId, lastUsedAt: _ignored, ...user } = row;
        return ok({ user, via: "api_key", apiKeyId: keyId });
      }
      let sub: unknown;
      try {
        sub = (app.jwt.verify(token) as { sub?: unknown }).sub;
      } catch (error) {
        const code = (error as { code?: string }).code;
        return fail(code === "FAST_JWT_EXPIRED" ? "Access token expired" : "Invalid access token");
      }
      if (typeof sub !== "string" || !UUID_RE.test(sub)) return fail("Invalid access token");
      // Tokens of deleted users stop working: the user is looked up on every request.
      const [user] = await db.select(userColumns).from(users).where(eq(users.id, sub));
      if (!user) return fail("Invalid access token");
      return ok({ user, via: "jwt" });
    }

    app.decorate("authenticateToken", async (token: string) => (await authenticateToken(token)).principal);

    app.addHook("onRequest", async (request) => {
      request.auth = await identify(request);
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
