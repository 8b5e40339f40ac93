// A real Mimic server for server-mode tests: the API with its engine, listening on a loopback port over a fresh
// test database (PGlite, or PostgreSQL when DATABASE_URL is set), and a user with an API key made through the SDK.
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { buildApp, loadConfig } from "@mimic/api";
import { createTestDb, type TestDb } from "@mimic/db/testing";
import { MimicClient } from "@mimic/sdk";

export interface TestServer {
  baseUrl: string;
  close(): Promise<void>;
}

export async function startServer(): Promise<TestServer> {
  const db: TestDb = await createTestDb();
  const config = loadConfig({
    NODE_ENV: "test",
    MIMIC_ALLOW_PRIVATE_TARGETS: "true",
    MIMIC_ENGINE_POLL_MS: "20",
    MIMIC_RATE_LIMIT_USER: "100000",
    MIMIC_RATE_LIMIT_ANON: "100000",
    MIMIC_RATE_LIMIT_LOGIN: "100000",
  });
  const app = await buildApp({ config, db, jwtSecret: "x".repeat(48), logger: false, engine: true });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    async close() {
      await app.close();
      await db.close();
    },
  };
}

export interface TestUser {
  client: MimicClient;
  apiKey: string;
}

/** A new user and an API key of theirs; the client carries the key. */
export async function userWithApiKey(baseUrl: string): Promise<TestUser> {
  const client = new MimicClient({ baseUrl });
  const { access_token } = await client.auth.register({
    email: `cli-${randomUUID()}@example.com`,
    password: "correct horse battery staple",
  });
  client.setToken(access_token);
  const { key } = await client.apiKeys.create({ name: "ci" });
  client.setToken(key);
  return { client, apiKey: key };
}
