// The server log never holds credentials: not the request's, not the ones a failed query carried as parameters.
import { Writable } from "node:stream";
import { createTestDb, type TestDb } from "@mimic/db/testing";
import { sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { expectError, JWT_SECRET, registerUser, type TestUser } from "./helpers.js";

const PASSWORD = "correct horse battery staple 31337";
const AGENT_SECRET = "whsec_do-not-log-4f9a1c77";
const AGENT_API_KEY = "agent-api-key-do-not-log-8d2e";

let db: TestDb;
let app: FastifyInstance;
let user: TestUser;
const lines: string[] = [];
const log = () => lines.join("");

beforeAll(async () => {
  db = await createTestDb();
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  app = await buildApp({
    config: loadConfig({
      NODE_ENV: "test",
      MIMIC_RATE_LIMIT_LOGIN: "10000",
      MIMIC_RATE_LIMIT_USER: "10000",
      MIMIC_RATE_LIMIT_ANON: "10000",
    }),
    db,
    jwtSecret: JWT_SECRET,
    logger: { level: "info", stream },
  });
  user = await registerUser(app, PASSWORD);
  // Every write to these tables now fails inside the database, after the values were sent as parameters.
  await db.db.execute(sql`
    create function mimic_test_refuse() returns trigger language plpgsql as $$
    begin raise exception 'refused by a test trigger'; end $$`);
  for (const table of ["users", "agents", "api_keys"])
    await db.db.execute(
      sql.raw(
        `create trigger refuse before insert or update on ${table} for each row execute function mimic_test_refuse()`,
      ),
    );
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

describe("the server log", () => {
  it("keeps a failed query's error but none of its parameters", async () => {
    const agent = await app.inject({
      method: "POST",
      url: "/api/agents",
      headers: user.headers,
      payload: {
        name: "Leaky",
        type: "webhook",
        config: { webhook_url: "https://bot.example.com/hook", secret: AGENT_SECRET, api_key: AGENT_API_KEY },
      },
    });
    expectError(agent, 500, "INTERNAL_ERROR");
    const key = await app.inject({
      method: "POST",
      url: "/api/auth/api-keys",
      headers: user.headers,
      payload: { name: "ci" },
    });
    expectError(key, 500, "INTERNAL_ERROR");
    const register = await app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { email: "second@example.com", password: PASSWORD, name: "Second" },
    });
    expectError(register, 500, "INTERNAL_ERROR");

    const failures = lines.map((line) => JSON.parse(line)).filter((entry) => entry.msg === "request failed");
    expect(failures).toHaveLength(3);
    for (const entry of failures) {
      // What an operator needs: the SQL, the database's message and SQLSTATE (P0001: raise_exception).
      expect(JSON.stringify(entry.err)).toMatch(/Failed query: (insert|update)/);
      expect(JSON.stringify(entry.err)).toContain("refused by a test trigger");
      expect(JSON.stringify(entry.err)).toContain("P0001");
      expect(entry.requestId).toMatch(/\S/);
    }
    const text = log();
    expect(text).not.toContain(AGENT_SECRET);
    expect(text).not.toContain(AGENT_API_KEY);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain("$argon2");
    expect(text).not.toContain("second@example.com");
    expect(text).not.toMatch(/params:/);
    // API keys are stored as SHA-256 hex digests (pnpm's `patch_hash=` in stack paths is no key); keys start mk_.
    expect(text).not.toMatch(/(?<![=\w])[0-9a-f]{64}(?![0-9a-f])/);
    expect(text).not.toMatch(/mk_[A-Za-z0-9_-]{20}/);
  });

  it("redacts credentials logged by hand, at any depth", () => {
    app.log.info(
      {
        request: { headers: { authorization: "Bearer abc.def.ghi", cookie: "sid=123" } },
        password: PASSWORD,
        body: { apiKey: "k1-do-not-log", config: { secret: AGENT_SECRET, api_key: AGENT_API_KEY } },
        token: "t1-do-not-log",
        key: "k2-do-not-log",
      },
      "by hand",
    );
    const entry = JSON.parse(lines.at(-1)!);
    expect(entry.msg).toBe("by hand");
    expect(entry.password).toBe("[redacted]");
    expect(entry.body.config).toEqual({ secret: "[redacted]", api_key: "[redacted]" });
    expect(lines.at(-1)).not.toMatch(/do-not-log|abc\.def|sid=123/);
  });

  it("scrubs query parameters from an error logged as a string", () => {
    app.log.warn({ err: 'Failed query: select 1\nparams: hunter2,"$argon2id$v=19$x"' }, "as text");
    const entry = JSON.parse(lines.at(-1)!);
    expect(entry.err).toBe("Failed query: select 1");
  });
});
