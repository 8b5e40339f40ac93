// A real Mimic API listening on a loopback port, over a fresh test database (PGlite, or PostgreSQL when
// DATABASE_URL is set), and users registered through the SDK itself.
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { buildApp, loadConfig } from "@mimic/api";
import { createTestDb, type TestDb } from "@mimic/db/testing";
import { MimicClient, type User } from "../../src/index.js";

export type App = Awaited<ReturnType<typeof buildApp>>;

export interface TestApi {
  baseUrl: string;
  db: TestDb;
  app: App;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Run the simulation engine in the app, so that sessions play. */
  engine?: boolean;
  /** Listen on this port (default: any free one). */
  port?: number;
}

/**
 * Starts the API on 127.0.0.1 with generous rate limits (tests register many users from one IP).
 * Pass `db` to run a second app over the same database; it is then left open on close.
 */
export async function startApi(
  env: Record<string, string> = {},
  shared?: TestDb,
  options: StartOptions = {},
): Promise<TestApi> {
  const db = shared ?? (await createTestDb());
  const config = loadConfig({
    NODE_ENV: "test",
    MIMIC_RATE_LIMIT_USER: "10000",
    MIMIC_RATE_LIMIT_ANON: "10000",
    MIMIC_RATE_LIMIT_LOGIN: "10000",
    ...env,
  });
  const app = await buildApp({
    config,
    db,
    jwtSecret: "x".repeat(48),
    logger: false,
    engine: options.engine ?? false,
  });
  await app.listen({ host: "127.0.0.1", port: options.port ?? 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    db,
    app,
    async close() {
      await app.close();
      if (!shared) await db.close();
    },
  };
}

export const PASSWORD = "correct horse battery staple";

export const uniqueEmail = () => `user-${randomUUID()}@example.com`;

export interface SignedUp {
  client: MimicClient;
  user: User;
  email: string;
  token: string;
}

/** Registers a new user with a unique email; the returned client carries its access token. */
export async function signUp(baseUrl: string): Promise<SignedUp> {
  const client = new MimicClient({ baseUrl });
  const email = uniqueEmail();
  const { user, access_token } = await client.auth.register({ email, password: PASSWORD });
  client.setToken(access_token);
  return { client, user, email, token: access_token };
}
