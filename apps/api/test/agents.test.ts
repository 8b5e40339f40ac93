import { agents } from "@mimic/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openAgentConfig } from "../src/lib/secrets.js";
import { createTestApp, expectError, registerUser, type TestContext, type TestUser } from "./helpers.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(() => ctx.close());

// The seed's example request body.
const seedAgent = {
  name: "My WhatsApp Bot",
  type: "whatsapp",
  config: {
    webhook_url: "https://your-bot.com/webhook",
    phone_number: "+1234567890",
    api_key: "your-whatsapp-api-key",
  },
};

const webhookAgent = {
  name: "Support bot",
  type: "webhook",
  config: {
    webhook_url: "https://bot.example.com/hook",
    secret: "whsec_abcdef1234567890",
    headers: { "X-Tenant": "tenant-secret-value" },
  },
};

async function createAgent(user: TestUser, body: object) {
  const res = await ctx.app.inject({
    method: "POST",
    url: "/api/agents",
    headers: user.headers,
    payload: body,
  });
  expect(res.statusCode, res.body).toBe(201);
  return res.json();
}

/** The stored config, secrets decrypted (they are stored encrypted: see agent-secrets.test.ts). */
async function storedConfig(id: string) {
  const [row] = await ctx.db.db.select().from(agents).where(eq(agents.id, id));
  return openAgentConfig(ctx.db.db, row!.config);
}

describe("agents CRUD", () => {
  it("creates the seed's WhatsApp agent, active, with its api_key masked", async () => {
    const user = await registerUser(ctx.app);
    const agent = await createAgent(user, seedAgent);
    expect(agent).toMatchObject({
      name: "My WhatsApp Bot",
      type: "whatsapp",
      status: "active",
      config: {
        webhook_url: "https://your-bot.com/webhook",
        phone_number: "+1234567890",
        api_key: "****-key",
      },
    });
    expect(await storedConfig(agent.id)).toMatchObject({ api_key: "your-whatsapp-api-key" });
  });

  it("masks secrets and header values on every read", async () => {
    const user = await registerUser(ctx.app);
    const agent = await createAgent(user, webhookAgent);
    const reads = [
      agent,
      (await ctx.app.inject({ method: "GET", url: `/api/agents/${agent.id}`, headers: user.headers })).json(),
      (await ctx.app.inject({ method: "GET", url: "/api/agents", headers: user.headers })).json().data[0],
      (
        await ctx.app.inject({
          method: "PUT",
          url: `/api/agents/${agent.id}`,
          headers: user.headers,
          payload: { name: "Renamed" },
        })
      ).json(),
    ];
    for (const read of reads) {
      expect(read.config).toEqual({
        webhook_url: "https://bot.example.com/hook",
        secret: "****7890",
        headers: { "X-Tenant": "****alue" },
      });
      expect(JSON.stringify(read)).not.toContain("whsec_abcdef1234567890");
      expect(JSON.stringify(read)).not.toContain("tenant-secret-value");
    }
  });

  it("keeps a stored secret when the masked value is sent back, and replaces it when a new one is sent", async () => {
    const user = await registerUser(ctx.app);
    const agent = await createAgent(user, webhookAgent);
    const roundTrip = await ctx.app.inject({
      method: "PUT",
      url: `/api/agents/${agent.id}`,
      headers: user.headers,
      payload: { config: { ...agent.config, webhook_url: "https://bot.example.com/v2" } },
    });
    expect(roundTrip.statusCode).toBe(200);
    expect(await storedConfig(agent.id)).toEqual({
      webhook_url: "https://bot.example.com/v2",
      secret: "whsec_abcdef1234567890",
      headers: { "X-Tenant": "tenant-secret-value" },
    });
    await ctx.app.inject({
      method: "PUT",
      url: `/api/agents/${agent.id}`,
      headers: user.headers,
      payload: { config: { webhook_url: "https://bot.example.com/v2", secret: "whsec_new_secret_0000" } },
    });
    expect(await storedConfig(agent.id)).toEqual({
      webhook_url: "https://bot.example.com/v2",
      secret: "whsec_new_secret_0000",
    });
  });

  it("updates status, and validates a type change against the new type's config", async () => {
    const user = await registerUser(ctx.app);
    const agent = await createAgent(user, webhookAgent);
    const inactive = await ctx.app.inject({
      method: "PUT",
      url: `/api/agents/${agent.id}`,
      headers: user.headers,
      payload: { status: "inactive" },
    });
    expect(inactive.json()).toMatchObject({ status: "inactive", type: "webhook" });
    const badType = await ctx.app.inject({
      method: "PUT",
      url: `/api/agents/${agent.id}`,
      headers: user.headers,
      payload: { type: "websocket" },
    });
    expect(expectError(badType, 422, "VALIDATION_ERROR").details?.map((d) => d.field)).toContain(
      "config.url",
    );
    const switched = await ctx.app.inject({
      method: "PUT",
      url: `/api/agents/${agent.id}`,
      headers: user.headers,
      payload: { type: "websocket", config: { url: "wss://bot.example.com/ws" } },
    });
    expect(switched.json()).toMatchObject({ type: "websocket", config: { url: "wss://bot.example.com/ws" } });
  });

  it("deletes an agent (204); it is gone and a second delete is 404", async () => {
    const user = await registerUser(ctx.app);
    const agent = await createAgent(user, webhookAgent);
    expect(
      (await ctx.app.inject({ method: "DELETE", url: `/api/agents/${agent.id}`, headers: user.headers }))
        .statusCode,
    ).toBe(204);
    expectError(
      await ctx.app.inject({ method: "GET", url: `/api/agents/${agent.id}`, headers: user.headers }),
      404,
      "RESOURCE_NOT_FOUND",
    );
    expectError(
      await ctx.app.inject({ method: "DELETE", url: `/api/agents/${agent.id}`, headers: user.headers }),
      404,
      "RESOURCE_NOT_FOUND",
    );
  });
});

describe("agent config validation", () => {
  it.each([
    [{ name: "A", type: "webhook", config: {} }, "config.webhook_url"],
    [{ name: "A", type: "webhook", config: { webhook_url: "ftp://bot.example.com" } }, "config.webhook_url"],
    [
      { name: "A", type: "webhook", config: { webhook_url: "https://bot.example.com", timeout_ms: 5 } },
      "config.timeout_ms",
    ],
    [
      { name: "A", type: "webhook", config: { webhook_url: "https://bot.example.com", surprise: 1 } },
      "config.surprise",
    ],
    [{ name: "A", type: "websocket", config: { url: "https://bot.example.com" } }, "config.url"],
    [
      {
        name: "A",
        type: "whatsapp",
        config: { webhook_url: "https://bot.example.com", phone_number: "12345" },
      },
      "config.phone_number",
    ],
    [
      { name: "A", type: "whatsapp", config: { webhook_url: "https://bot.example.com" } },
      "config.phone_number",
    ],
    [{ name: "A", type: "voice", config: {} }, "config"],
    [{ name: "A", type: "telegram", config: {} }, "type"],
    [{ name: "A", type: "webhook" }, "config"],
  ])("rejects %j naming %s, and writes nothing", async (payload, field) => {
    const user = await registerUser(ctx.app);
    const res = await ctx.app.inject({ method: "POST", url: "/api/agents", headers: user.headers, payload });
    const error = expectError(res, 422, "VALIDATION_ERROR");
    expect(error.details?.map((d) => d.field)).toContain(field);
    expect(await ctx.db.db.$count(agents, eq(agents.userId, user.id))).toBe(0);
  });

  it.each([
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://10.1.2.3/",
    "http://192.168.1.1/",
  ])("refuses the private target %s without MIMIC_ALLOW_PRIVATE_TARGETS", async (url) => {
    const user = await registerUser(ctx.app);
    const res = await ctx.app.inject({
      method: "POST",
      url: "/api/agents",
      headers: user.headers,
      payload: { name: "A", type: "webhook", config: { webhook_url: url } },
    });
    expect(expectError(res, 422, "VALIDATION_ERROR").details?.[0]?.field).toBe("config.webhook_url");
  });

  it("accepts private targets when MIMIC_ALLOW_PRIVATE_TARGETS=true", async () => {
    const open = await createTestApp({ MIMIC_ALLOW_PRIVATE_TARGETS: "true" });
    try {
      const user = await registerUser(open.app);
      const res = await open.app.inject({
        method: "POST",
        url: "/api/agents",
        headers: user.headers,
        payload: {
          name: "Local bot",
          type: "webhook",
          config: { webhook_url: "http://127.0.0.1:4100/hook" },
        },
      });
      expect(res.statusCode).toBe(201);
    } finally {
      await open.close();
    }
  });
});

describe("agent lists", () => {
  it("filters by type and pages newest first", async () => {
    const user = await registerUser(ctx.app);
    const wa = await createAgent(user, seedAgent);
    const hooks = [];
    for (let i = 0; i < 3; i++) hooks.push(await createAgent(user, { ...webhookAgent, name: `Hook ${i}` }));
    const onlyWa = await ctx.app.inject({
      method: "GET",
      url: "/api/agents?type=whatsapp",
      headers: user.headers,
    });
    expect(onlyWa.json().data.map((a: { id: string }) => a.id)).toEqual([wa.id]);
    expect(onlyWa.json().pagination.total).toBe(1);
    const page = await ctx.app.inject({
      method: "GET",
      url: "/api/agents?type=webhook&limit=2&page=1",
      headers: user.headers,
    });
    expect(page.json().data.map((a: { name: string }) => a.name)).toEqual(["Hook 2", "Hook 1"]);
    expect(page.json().pagination).toEqual({ page: 1, limit: 2, total: 3, pages: 2 });
    expectError(
      await ctx.app.inject({ method: "GET", url: "/api/agents?type=fax", headers: user.headers }),
      422,
      "VALIDATION_ERROR",
    );
  });
});

describe("agent ownership", () => {
  it("hides another user's agent on every verb (404) and leaves it untouched", async () => {
    const owner = await registerUser(ctx.app);
    const intruder = await registerUser(ctx.app);
    const agent = await createAgent(owner, webhookAgent);
    const url = `/api/agents/${agent.id}`;
    for (const [method, payload] of [["GET"], ["PUT", { name: "Hijacked" }], ["DELETE"]] as const) {
      const res = await ctx.app.inject({
        method,
        url,
        headers: intruder.headers,
        ...(payload ? { payload } : {}),
      });
      expect(expectError(res, 404, "RESOURCE_NOT_FOUND").message).toBe("Agent not found");
    }
    expect(
      (await ctx.app.inject({ method: "GET", url: "/api/agents", headers: intruder.headers })).json().data,
    ).toEqual([]);
    expect((await ctx.app.inject({ method: "GET", url, headers: owner.headers })).json()).toEqual(agent);
  });
});
