// Agent secrets: encrypted at rest (AES-256-GCM, key from MIMIC_SECRET_KEY), opened for the engine and the agent-key
// check, masked in responses, never carried to a new host by a masked round-trip, and rotated without downtime.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { agents } from "@mimic/db";
import { createTestDb, type TestDb } from "@mimic/db/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import {
  createKeyring,
  keyringOf,
  openAgentConfig,
  openSecret,
  resolveSecretKeyring,
  SecretKeyError,
  sealSecret,
  secretKeyId,
} from "../src/lib/secrets.js";
import { sealStoredSecrets } from "../src/modules/agents/service.js";
import { createPersona, ENGINE_ENV, startSession, waitForEnd } from "./engine/fixtures.js";
import { createTestApp, expectError, registerUser, type TestContext, type TestUser } from "./helpers.js";
import { startWebhookBot, type WebhookBot } from "./support/bots.js";

const SEALED = /^enc:v1:[0-9a-f]{12}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$/;
const keyB64 = () => randomBytes(32).toString("base64");

let ctx: TestContext;
let user: TestUser;
/** A WhatsApp bot's webhook as Meta registers it: it echoes hub.challenge when the verify token matches. */
let waBot: Server;
let waUrl: string;
beforeAll(async () => {
  waBot = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const ok = url.searchParams.get("hub.verify_token") === "verify-token-0001";
    res.writeHead(ok ? 200 : 403).end(ok ? (url.searchParams.get("hub.challenge") ?? "") : "");
  });
  await new Promise<void>((resolve) => waBot.listen(0, "127.0.0.1", resolve));
  waUrl = `http://127.0.0.1:${(waBot.address() as AddressInfo).port}/wa`;
  // Loopback allowed: the WhatsApp agents below are verified against waBot when saved.
  ctx = await createTestApp({ MIMIC_ALLOW_PRIVATE_TARGETS: "true" });
  user = await registerUser(ctx.app);
});
afterAll(async () => {
  await ctx.close();
  await new Promise((resolve) => waBot.close(resolve));
});

async function create(body: object, app = ctx, who = user) {
  const res = await app.app.inject({
    method: "POST",
    url: "/api/agents",
    headers: who.headers,
    payload: body,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

async function update(id: string, payload: object) {
  return ctx.app.inject({ method: "PUT", url: `/api/agents/${id}`, headers: user.headers, payload });
}

async function rawConfig(id: string, db: TestDb = ctx.db) {
  const [row] = await db.db.select().from(agents).where(eq(agents.id, id));
  return row!.config as Record<string, unknown>;
}

const webhook = {
  name: "Support bot",
  type: "webhook",
  config: {
    webhook_url: "https://bot.example.com/hook",
    secret: "whsec_abcdef1234567890",
    api_key: "agent-key-abcdef-0001",
    headers: { "X-Tenant": "tenant-secret-value" },
  },
};
const PLAINTEXTS = ["whsec_abcdef1234567890", "agent-key-abcdef-0001", "tenant-secret-value"];

describe("agent secrets at rest", () => {
  it("stores every secret encrypted, with a fresh IV each time, and never its plaintext", async () => {
    const first = await create(webhook);
    const second = await create(webhook);
    const whatsapp = await create({
      name: "WA",
      type: "whatsapp",
      config: {
        webhook_url: waUrl,
        phone_number: "+15550001111",
        app_secret: "meta-app-secret-0001",
        verify_token: "verify-token-0001",
      },
    });
    const stored = [await rawConfig(first.id), await rawConfig(second.id), await rawConfig(whatsapp.id)];
    const text = JSON.stringify(stored);
    for (const plain of [...PLAINTEXTS, "meta-app-secret-0001", "verify-token-0001"])
      expect(text).not.toContain(plain);
    const [a, b, wa] = stored as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    for (const value of [
      a.secret,
      a.api_key,
      (a.headers as Record<string, string>)["X-Tenant"],
      wa.app_secret,
    ])
      expect(value).toMatch(SEALED);
    // The same plaintext twice: two different ciphertexts (random IV per value).
    expect(a.secret).not.toBe(b.secret);
    // Everything else stays readable (and queryable).
    expect(a.webhook_url).toBe("https://bot.example.com/hook");
    expect(wa.phone_number).toBe("+15550001111");
    expect(openAgentConfig(ctx.db.db, a as never)).toEqual(webhook.config);
  });

  it("masks responses from the decrypted values", async () => {
    const agent = await create(webhook);
    const read = (
      await ctx.app.inject({ method: "GET", url: `/api/agents/${agent.id}`, headers: user.headers })
    ).json();
    for (const body of [agent, read]) {
      expect(body.config).toEqual({
        webhook_url: "https://bot.example.com/hook",
        secret: "****7890",
        api_key: "****0001",
        headers: { "X-Tenant": "****alue" },
      });
    }
  });

  it("shows a secret it cannot decrypt as **** rather than failing the read", async () => {
    const agent = await create(webhook);
    const foreign = sealSecret(createKeyring(randomBytes(32)), "sealed-elsewhere-0001");
    await ctx.db.db
      .update(agents)
      .set({ config: { webhook_url: "https://bot.example.com/hook", secret: foreign } })
      .where(eq(agents.id, agent.id));
    const read = await ctx.app.inject({
      method: "GET",
      url: `/api/agents/${agent.id}`,
      headers: user.headers,
    });
    expect(read.json().config).toEqual({ webhook_url: "https://bot.example.com/hook", secret: "****" });
  });

  it("treats a secret that looks encrypted as the plaintext it is", async () => {
    const lookalike = "enc:v1:0123456789ab:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA:AAAA";
    const agent = await create({
      name: "Lookalike",
      type: "webhook",
      config: { webhook_url: "https://bot.example.com/hook", api_key: lookalike },
    });
    expect(agent.config.api_key).toBe("****AAAA");
    const stored = await rawConfig(agent.id);
    expect(stored.api_key).not.toBe(lookalike);
    expect(openAgentConfig(ctx.db.db, stored as never).api_key).toBe(lookalike);
  });

  it("refuses an altered ciphertext", () => {
    const ring = keyringOf(ctx.db.db);
    const sealed = sealSecret(ring, "tamper-me-please");
    const parts = sealed.split(":");
    const body = Buffer.from(parts[5]!, "base64url");
    body[0]! ^= 1;
    parts[5] = body.toString("base64url");
    expect(() => openSecret(ring, parts.join(":"))).toThrow(SecretKeyError);
  });
});

describe("masked secrets when the URL changes", () => {
  it.each([
    ["another host", "https://evil.example.net/hook"],
    ["another port", "https://bot.example.com:8443/hook"],
    ["another scheme", "http://bot.example.com/hook"],
  ])("drops every masked secret when webhook_url points at %s", async (_what, url) => {
    const agent = await create(webhook);
    const res = await update(agent.id, { config: { ...agent.config, webhook_url: url } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().config).toEqual({ webhook_url: url });
    expect(openAgentConfig(ctx.db.db, (await rawConfig(agent.id)) as never)).toEqual({ webhook_url: url });
  });

  it("drops a WebSocket agent's masked api_key and headers when its url moves to another host", async () => {
    const agent = await create({
      name: "WS",
      type: "websocket",
      config: {
        url: "wss://bot.example.com/ws",
        api_key: "ws-key-abcdef-0001",
        headers: { "X-T": "t-value-01" },
      },
    });
    const res = await update(agent.id, { config: { ...agent.config, url: "wss://other.example.org/ws" } });
    expect(res.json().config).toEqual({ url: "wss://other.example.org/ws" });
  });

  it("drops a WhatsApp agent's masked api_key, app_secret and verify_token when its webhook moves", async () => {
    const agent = await create({
      name: "WA",
      type: "whatsapp",
      config: {
        webhook_url: waUrl,
        phone_number: "+15550001111",
        api_key: "graph-token-0001",
        app_secret: "meta-app-secret-0001",
        verify_token: "verify-token-0001",
      },
    });
    const res = await update(agent.id, {
      config: { ...agent.config, webhook_url: "https://elsewhere.example/wa" },
    });
    expect(res.json().config).toEqual({
      webhook_url: "https://elsewhere.example/wa",
      phone_number: "+15550001111",
    });
  });

  it("keeps the secrets sent again with the new URL", async () => {
    const agent = await create(webhook);
    const res = await update(agent.id, {
      config: { ...webhook.config, webhook_url: "https://new-host.example.com/hook" },
    });
    expect(res.json().config).toMatchObject({ secret: "****7890", api_key: "****0001" });
    expect(openAgentConfig(ctx.db.db, (await rawConfig(agent.id)) as never)).toEqual({
      ...webhook.config,
      webhook_url: "https://new-host.example.com/hook",
    });
  });

  it("keeps masked secrets when only the path changes (same origin), re-encrypted", async () => {
    const agent = await create(webhook);
    const before = await rawConfig(agent.id);
    const res = await update(agent.id, {
      config: { ...agent.config, webhook_url: "https://bot.example.com/v2" },
    });
    expect(res.json().config).toMatchObject({ secret: "****7890", headers: { "X-Tenant": "****alue" } });
    const after = await rawConfig(agent.id);
    expect(after.secret).toMatch(SEALED);
    expect(after.secret).not.toBe(before.secret);
    expect(openAgentConfig(ctx.db.db, after as never)).toEqual({
      ...webhook.config,
      webhook_url: "https://bot.example.com/v2",
    });
  });
});

describe("the engine and the agent key see decrypted values", () => {
  let engine: TestContext;
  let owner: TestUser;
  let bot: WebhookBot;
  const secret = "whsec_engine_signing_0001";
  beforeAll(async () => {
    engine = await createTestApp(ENGINE_ENV, { engine: true });
    owner = await registerUser(engine.app);
    bot = await startWebhookBot(() => ({ status: 202 }), secret);
  });
  afterAll(async () => {
    await engine.close();
    await bot.close();
  });

  it("signs with the decrypted secret, sends the decrypted header, and accepts the decrypted api_key", async () => {
    const agentKey = "agent-async-key-0001";
    const agent = await create(
      {
        name: "Async bot",
        type: "webhook",
        config: {
          webhook_url: bot.url,
          secret,
          api_key: agentKey,
          headers: { "X-Tenant": "tenant-secret-value" },
        },
      },
      engine,
      owner,
    );
    expect(JSON.stringify(await rawConfig(agent.id, engine.db))).not.toContain(agentKey);
    const persona = await createPersona(engine.app, owner, { goal: null });
    const session = await startSession(engine.app, owner, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 10, messageInterval: 0, replyTimeout: 30 },
    });
    await expect.poll(() => bot.received.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(bot.received[0]!.signatureValid).toBe(true);
    expect(bot.received[0]!.headers["x-tenant"]).toBe("tenant-secret-value");
    const reply = await engine.app.inject({
      method: "POST",
      url: `/api/sessions/${session.id}/messages`,
      headers: { authorization: `Bearer ${agentKey}` },
      payload: { senderType: "agent", content: "Answered asynchronously" },
    });
    expect(reply.statusCode, reply.body).toBe(201);
    // The stored ciphertext is not a key.
    const sealed = (await rawConfig(agent.id, engine.db)).api_key as string;
    const wrong = await engine.app.inject({
      method: "POST",
      url: `/api/sessions/${session.id}/messages`,
      headers: { authorization: `Bearer ${sealed}` },
      payload: { senderType: "agent", content: "Should not land" },
    });
    expectError(wrong, 401, "AUTHENTICATION_ERROR");
    await engine.app.inject({ method: "DELETE", url: `/api/sessions/${session.id}`, headers: owner.headers });
  });

  it("fails a session whose agent secret cannot be decrypted, with a reason, instead of retrying", async () => {
    const foreign = sealSecret(createKeyring(randomBytes(32)), "sealed-elsewhere-0001");
    const [row] = await engine.db.db
      .insert(agents)
      .values({
        userId: owner.id,
        name: "Foreign",
        type: "webhook",
        config: { webhook_url: bot.url, secret: foreign },
      })
      .returning();
    const persona = await createPersona(engine.app, owner, { goal: null });
    const session = await startSession(engine.app, owner, { agentId: row!.id, personaId: persona.id });
    const done = await waitForEnd(engine.app, owner, session.id);
    expect(done.status).toBe("failed");
    expect(done.reason).toMatch(/encrypted with key [0-9a-f]{12}, which is not configured/);
  });
});

describe("start-up encryption and key rotation", () => {
  let db: TestDb;
  let dataDir: string;
  beforeAll(async () => {
    db = await createTestDb();
    dataDir = mkdtempSync(join(tmpdir(), "mimic-secret-key-"));
  });
  afterAll(async () => {
    await db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("encrypts plaintext secrets written before encryption at start-up, once", async () => {
    const first = await createTestApp({ MIMIC_SECRET_KEY: keyB64() }, { db });
    const owner = await registerUser(first.app);
    const [legacy] = await db.db
      .insert(agents)
      .values({ userId: owner.id, name: "Legacy", type: "webhook", config: webhook.config })
      .returning();
    await first.app.close();

    const restarted = await createTestApp({ MIMIC_SECRET_KEY: keyB64() }, { db });
    await restarted.app.ready();
    const stored = await rawConfig(legacy!.id, db);
    expect(JSON.stringify(stored)).not.toMatch(new RegExp(PLAINTEXTS.join("|")));
    expect(stored.secret).toMatch(SEALED);
    expect(openAgentConfig(db.db, stored as never)).toEqual(webhook.config);
    // Idempotent: nothing left to do on the next pass.
    expect(await sealStoredSecrets(db.db)).toEqual({ sealed: 0, unreadable: 0 });
    await restarted.app.close();
  });

  it("rotates: a new MIMIC_SECRET_KEY with the old one in MIMIC_SECRET_KEY_PREVIOUS opens old values and re-encrypts them", async () => {
    const oldKey = keyB64();
    const newKey = keyB64();
    const before = await createTestApp({ MIMIC_SECRET_KEY: oldKey }, { db });
    const owner = await registerUser(before.app);
    const agent = await create(webhook, before, owner);
    const oldId = secretKeyId(Buffer.from(oldKey, "base64"));
    const newId = secretKeyId(Buffer.from(newKey, "base64"));
    expect((await rawConfig(agent.id, db)).secret).toMatch(new RegExp(`^enc:v1:${oldId}:`));
    await before.app.close();

    // The new key alone does not open values sealed with the old one.
    const newOnly = resolveSecretKeyring(loadConfig({ MIMIC_SECRET_KEY: newKey, MIMIC_DATA_DIR: dataDir }));
    const sealedOld = (await rawConfig(agent.id, db)).secret as string;
    expect(() => openSecret(newOnly, sealedOld)).toThrow(/not configured/);

    const after = await createTestApp(
      { MIMIC_SECRET_KEY: newKey, MIMIC_SECRET_KEY_PREVIOUS: oldKey },
      { db },
    );
    await after.app.ready();
    const stored = await rawConfig(agent.id, db);
    for (const value of [
      stored.secret,
      stored.api_key,
      (stored.headers as Record<string, string>)["X-Tenant"],
    ])
      expect(value).toMatch(new RegExp(`^enc:v1:${newId}:`));
    expect(openSecret(newOnly, stored.secret as string)).toBe("whsec_abcdef1234567890");
    const read = await after.app.inject({
      method: "GET",
      url: `/api/agents/${agent.id}`,
      headers: owner.headers,
    });
    expect(read.json().config.secret).toBe("****7890");
    await after.app.close();
  });

  it("counts secrets encrypted with a key that is not configured, and leaves them as they are", async () => {
    const app = await createTestApp({ MIMIC_SECRET_KEY: keyB64() });
    try {
      const owner = await registerUser(app.app);
      const foreign = sealSecret(createKeyring(randomBytes(32)), "sealed-elsewhere-0001");
      const [row] = await app.db.db
        .insert(agents)
        .values({
          userId: owner.id,
          name: "Foreign",
          type: "webhook",
          config: { webhook_url: "https://x.example", secret: foreign },
        })
        .returning();
      expect(await sealStoredSecrets(app.db.db)).toEqual({ sealed: 0, unreadable: 1 });
      expect((await rawConfig(row!.id, app.db)).secret).toBe(foreign);
    } finally {
      await app.close();
    }
  });
});

describe("MIMIC_SECRET_KEY", () => {
  const hex = randomBytes(32).toString("hex");

  it("takes 32 bytes as base64, base64url or hex", () => {
    const bytes = randomBytes(32);
    for (const text of [bytes.toString("base64"), bytes.toString("base64url"), bytes.toString("hex")])
      expect(loadConfig({ MIMIC_SECRET_KEY: text }).secretKey.current).toEqual(bytes);
  });

  it("refuses other lengths without echoing the value, a previous key alone, and production without a key", () => {
    let error: unknown;
    try {
      loadConfig({ MIMIC_SECRET_KEY: "c2hvcnQta2V5", MIMIC_SECRET_KEY_PREVIOUS: `${hex},nope` });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    expect(problems).toMatch(/MIMIC_SECRET_KEY: must be 32 bytes/);
    expect(problems).toMatch(/MIMIC_SECRET_KEY_PREVIOUS: must be 32 bytes/);
    expect(problems).not.toContain("c2hvcnQta2V5");
    expect(problems).not.toContain("nope");
    expect(() => loadConfig({ MIMIC_SECRET_KEY_PREVIOUS: hex })).toThrow(/set MIMIC_SECRET_KEY too/);
    expect(() => loadConfig({ NODE_ENV: "production", MIMIC_JWT_SECRET: "s".repeat(40) })).toThrow(
      /MIMIC_SECRET_KEY: required when NODE_ENV=production/,
    );
  });

  it("is generated once into the data dir outside production (mode 0600), and keeps opening its values once a key is set", () => {
    const dir = mkdtempSync(join(tmpdir(), "mimic-secret-key-"));
    try {
      const generated = resolveSecretKeyring(loadConfig({ MIMIC_DATA_DIR: dir }));
      expect(resolveSecretKeyring(loadConfig({ MIMIC_DATA_DIR: dir })).currentId).toBe(generated.currentId);
      expect(statSync(join(dir, "secret-key")).mode & 0o777).toBe(0o600);
      const sealed = sealSecret(generated, "written-in-dev-0001");
      const configured = resolveSecretKeyring(loadConfig({ MIMIC_DATA_DIR: dir, MIMIC_SECRET_KEY: hex }));
      expect(configured.currentId).not.toBe(generated.currentId);
      expect(openSecret(configured, sealed)).toBe("written-in-dev-0001");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
