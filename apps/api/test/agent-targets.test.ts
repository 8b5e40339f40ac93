// Where an agent may point (OWASP SSRF, checked when it is saved; the engine checks again when it connects, see
// engine/outbound.test.ts) and which headers it may set (none that Mimic or the transport owns).
import { agents } from "@mimic/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPrivateAddress } from "../src/lib/outbound.js";
import { createPersona, ENGINE_ENV, startSession, waitForEnd } from "./engine/fixtures.js";
import { createTestApp, expectError, registerUser, type TestContext, type TestUser } from "./helpers.js";
import { startWebhookBot } from "./support/bots.js";

let ctx: TestContext;
let user: TestUser;
beforeAll(async () => {
  ctx = await createTestApp({ MIMIC_ALLOW_PRIVATE_TARGETS: "false" });
  user = await registerUser(ctx.app);
});
afterAll(() => ctx.close());

const post = (payload: object, app = ctx, who = user) =>
  app.app.inject({ method: "POST", url: "/api/agents", headers: who.headers, payload });

/** Hosts that reach the server's own network, or nothing public: each in the spelling a URL accepts. */
const PRIVATE_HOSTS = [
  // IPv6 forms of IPv4 loopback and link-local
  "[::7f00:1]", // IPv4-compatible
  "[::127.0.0.1]", // IPv4-compatible, dotted
  "[::ffff:127.0.0.1]", // IPv4-mapped
  "[::ffff:0:7f00:1]", // IPv4-translated (RFC 6145)
  "[64:ff9b::7f00:1]", // NAT64 of 127.0.0.1
  "[64:ff9b::a9fe:a9fe]", // NAT64 of 169.254.169.254
  "[64:ff9b:1::a]", // local-use NAT64
  "[2002:7f00:1::]", // 6to4 of 127.0.0.1
  "[2002:a9fe:a9fe::1]", // 6to4 of 169.254.169.254
  "[2001::1]", // Teredo
  // IPv6 special ranges
  "[::1]",
  "[::]",
  "[fe80::1]",
  "[fec0::1]", // site-local
  "[fd00::1]", // unique local
  "[100::1]", // discard
  "[ff02::1]", // multicast
  "[2001:db8::1]", // documentation
  // IPv4 special ranges
  "127.0.0.1",
  "10.1.2.3",
  "172.16.0.1",
  "192.168.1.1",
  "169.254.169.254",
  "100.64.0.1", // CGNAT
  "0.0.0.0",
  "0.1.2.3", // 0.0.0.0/8
  "224.0.0.1", // multicast
  "240.0.0.1", // reserved
  "255.255.255.255", // broadcast
  "192.0.2.1", // documentation
  "198.18.0.1", // benchmarking
  // other spellings of 127.0.0.1
  "2130706433",
  "0x7f.1",
  "0x7f000001",
  "017700000001",
  "127.1",
  "localhost",
  "LOCALHOST.",
  "api.localhost",
];

describe("agent URLs at save time", () => {
  it.each(PRIVATE_HOSTS)("refuses %s in a webhook_url (422 naming config.webhook_url)", async (host) => {
    const error = expectError(
      await post({ name: "A", type: "webhook", config: { webhook_url: `http://${host}:8080/hook` } }),
      422,
      "VALIDATION_ERROR",
    );
    expect(error.details).toEqual([
      {
        field: "config.webhook_url",
        message: expect.stringMatching(/private, loopback, link-local or reserved/),
      },
    ]);
  });

  it.each([
    "[::ffff:7f00:1]",
    "[64:ff9b::a9fe:a9fe]",
    "2130706433",
    "[fec0::1]",
  ])("refuses %s in a WebSocket url (config.url), on create and on update", async (host) => {
    const bad = { name: "A", type: "websocket", config: { url: `ws://${host}/ws` } };
    expect(expectError(await post(bad), 422, "VALIDATION_ERROR").details?.[0]?.field).toBe("config.url");
    const good = await post({ name: "A", type: "websocket", config: { url: "wss://bot.example.com/ws" } });
    const res = await ctx.app.inject({
      method: "PUT",
      url: `/api/agents/${good.json().id}`,
      headers: user.headers,
      payload: { config: { url: `wss://${host}/ws` } },
    });
    expect(expectError(res, 422, "VALIDATION_ERROR").details?.[0]?.field).toBe("config.url");
  });

  it.each([
    "bot.example.com",
    "8.8.8.8",
    "[2606:4700:4700::1111]",
    "[64:ff9b::808:808]", // NAT64 of a public address
    "[2002:808:808::1]", // 6to4 of a public address
  ])("accepts the public target %s", async (host) => {
    const res = await post({ name: "A", type: "webhook", config: { webhook_url: `https://${host}/hook` } });
    expect(res.statusCode, res.body).toBe(201);
  });

  it("accepts every form when MIMIC_ALLOW_PRIVATE_TARGETS=true", async () => {
    const open = await createTestApp({ MIMIC_ALLOW_PRIVATE_TARGETS: "true" });
    try {
      const owner = await registerUser(open.app);
      for (const host of PRIVATE_HOSTS.slice(0, 6)) {
        const res = await post(
          { name: "A", type: "webhook", config: { webhook_url: `http://${host}/` } },
          open,
          owner,
        );
        expect(res.statusCode, res.body).toBe(201);
      }
    } finally {
      await open.close();
    }
  });

  it("classifies resolved addresses the same way at connect time", () => {
    for (const address of [
      "127.0.0.1",
      "::1",
      "::ffff:10.0.0.1",
      "64:ff9b::a00:1",
      "fec0::1",
      "100.64.1.1",
      "0.0.0.0",
    ])
      expect(isPrivateAddress(address), address).toBe(true);
    for (const address of ["93.184.216.34", "2606:4700:4700::1111", "64:ff9b::808:808"])
      expect(isPrivateAddress(address), address).toBe(false);
  });
});

describe("agent headers", () => {
  it.each([
    "Host",
    "Content-Length",
    "content-type",
    "Transfer-Encoding",
    "Connection",
    "Keep-Alive",
    "Upgrade",
    "TE",
    "Trailer",
    "Expect",
    "Proxy-Authorization",
    "Mimic-Signature",
    "X-Mimic-Session-Id",
    "Sec-WebSocket-Key",
  ])("refuses %s (422 naming config.headers.<name>)", async (name) => {
    const res = await post({
      name: "A",
      type: "webhook",
      config: { webhook_url: "https://bot.example.com/hook", headers: { [name]: "x", "X-Tenant": "fine" } },
    });
    expect(expectError(res, 422, "VALIDATION_ERROR").details).toEqual([
      { field: `config.headers.${name}`, message: expect.stringMatching(/transport header/) },
    ]);
  });

  it("refuses Authorization where api_key is sent as the bearer token (WebSocket), allows it otherwise", async () => {
    const ws = await post({
      name: "A",
      type: "websocket",
      config: {
        url: "wss://bot.example.com/ws",
        api_key: "ws-key-000001",
        headers: { Authorization: "Bearer x" },
      },
    });
    expect(expectError(ws, 422, "VALIDATION_ERROR").details?.[0]?.field).toBe("config.headers.Authorization");
    const wsWithoutKey = await post({
      name: "A",
      type: "websocket",
      config: { url: "wss://bot.example.com/ws", headers: { Authorization: "Bearer x" } },
    });
    expect(wsWithoutKey.statusCode).toBe(201);
    // A webhook's api_key is what the bot uses to call Mimic: it never goes out, so the bot's own auth may.
    const hook = await post({
      name: "A",
      type: "webhook",
      config: {
        webhook_url: "https://bot.example.com/hook",
        api_key: "agent-key-000001",
        headers: { Authorization: "Bearer bots-own-token" },
      },
    });
    expect(hook.statusCode).toBe(201);
  });

  it("refuses header values a header cannot carry", async () => {
    const res = await post({
      name: "A",
      type: "webhook",
      config: { webhook_url: "https://bot.example.com/hook", headers: { "X-Tenant": "a\r\nX-Injected: 1" } },
    });
    expect(expectError(res, 422, "VALIDATION_ERROR").details?.[0]?.field).toBe("config.headers.X-Tenant");
  });

  it("are ignored by the engine when a row written before holds reserved ones", async () => {
    const engine = await createTestApp(ENGINE_ENV, { engine: true });
    const bot = await startWebhookBot();
    try {
      const owner = await registerUser(engine.app);
      const [agent] = await engine.db.db
        .insert(agents)
        .values({
          userId: owner.id,
          name: "Old row",
          type: "webhook",
          config: {
            webhook_url: bot.url,
            headers: {
              Host: "evil.example",
              "Content-Length": "1",
              "X-Mimic-Session-Id": "forged",
              "X-Tenant": "t",
            },
          },
        })
        .returning();
      const persona = await createPersona(engine.app, owner, { goal: null });
      const session = await startSession(engine.app, owner, {
        agentId: agent!.id,
        personaId: persona.id,
        config: { maxMessages: 1, messageInterval: 0, replyTimeout: 2 },
      });
      const done = await waitForEnd(engine.app, owner, session.id);
      expect(done.status).toBe("completed");
      const headers = bot.received[0]!.headers;
      expect(headers.host).toBe(new URL(bot.url).host);
      expect(headers["x-mimic-session-id"]).toBeUndefined();
      expect(headers["x-tenant"]).toBe("t");
    } finally {
      await engine.close();
      await bot.close();
    }
  });
});
