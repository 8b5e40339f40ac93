// WhatsApp sessions end to end: Mimic plays Meta towards a Cloud API bot built on a client library, the bot points
// its Graph base URL at Mimic, and the session reaches a verdict.
import { createHmac } from "node:crypto";
import type { AddressInfo } from "node:net";
import { GraphApiError } from "@kapso/whatsapp-cloud-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWhatsappDemoBot } from "../../src/demo/whatsapp-bot.js";
import { createPersona, ENGINE_ENV, startSession, waitForEnd } from "../engine/fixtures.js";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { type LlmServer, startLlmServer } from "../support/bots.js";
import {
  createWaAgent,
  type InboundMessage,
  newWaSettings,
  startWaBot,
  transcript,
  type WaBot,
  waitForVerdict,
} from "./support.js";

let ctx: TestContext;
let graph: string;
let user: TestUser;
let persona: { id: string; name: string };
let llm: LlmServer;
const bots: WaBot[] = [];

const FAST = { duration: 30, maxMessages: 20, messageInterval: 0.1, replyTimeout: 3 };

beforeAll(async () => {
  // An OpenAI-compatible model playing a customer: it taps a button by answering the option's title.
  llm = await startLlmServer((request) => {
    const last = String(request.messages.at(-1)?.content ?? "");
    if (/Options: .*\[New delivery date\]/.test(last)) return { content: "New delivery date" };
    if (/order number/i.test(last)) return { content: "It's order #4242." };
    if (/Thursday/.test(last)) return { content: "Great, thanks! [DONE]" };
    return { content: "Hi, my parcel is late and I need a new delivery date." };
  });
  ctx = await createTestApp({ ...ENGINE_ENV, MIMIC_LLM_BASE_URL: llm.baseUrl }, { engine: true });
  await ctx.app.listen({ host: "127.0.0.1", port: 0 });
  graph = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}/whatsapp`;
  user = await registerUser(ctx.app);
  persona = await createPersona(ctx.app, user, { name: "Late parcel" });
});

afterAll(async () => {
  for (const bot of bots) await bot.close();
  await ctx?.close();
  await llm?.close();
});

async function bot(options: Parameters<typeof startWaBot>[1] = {}) {
  const started = await startWaBot(newWaSettings(graph), options);
  bots.push(started);
  return started;
}

/** ShopCo's support bot: a menu of reply buttons, then the delivery date for an order number. */
async function shopBot(message: InboundMessage, b: WaBot) {
  await b.reply(message, (base) =>
    b.client.messages.markRead({
      phoneNumberId: base.phoneNumberId,
      messageId: message.id,
      typingIndicator: { type: "text" },
    }),
  );
  const text = message.text?.body ?? "";
  const order = /#(\d+)/.exec(text)?.[1];
  if (message.interactive?.buttonReply?.id === "delivery")
    return b.reply(message, (base) =>
      b.client.messages.sendText({ ...base, body: "Sure! What's your order number?" }),
    );
  if (order)
    return b.reply(message, (base) =>
      b.client.messages.sendText({
        ...base,
        body: `Thanks! Order #${order} is with the courier. Your new delivery date is Thursday.`,
      }),
    );
  if (/thank/i.test(text))
    return b.reply(message, (base) => b.client.messages.sendText({ ...base, body: "You're welcome!" }));
  return b.reply(message, (base) =>
    b.client.messages.sendInteractiveButtons({
      ...base,
      bodyText: "Sorry to hear that! What would you like to do?",
      buttons: [
        { id: "refund", title: "Refund" },
        { id: "delivery", title: "New delivery date" },
        { id: "human", title: "Talk to a human" },
      ],
    }),
  );
}

describe("starting a WhatsApp session", () => {
  it("verifies the webhook as Meta does when the agent is saved or its webhook changes (422 when it fails)", async () => {
    const refusing = await bot({ verify: "forbid" });
    const payload = (target: typeof refusing) => ({
      name: "WhatsApp bot",
      type: "whatsapp",
      config: {
        webhook_url: target.url,
        phone_number: "+15550100009",
        phone_number_id: target.settings.phoneNumberId,
        api_key: target.settings.accessToken,
        app_secret: target.settings.appSecret,
        verify_token: target.settings.verifyToken,
      },
    });
    const refused = await ctx.app.inject({
      method: "POST",
      url: "/api/agents",
      headers: user.headers,
      payload: payload(refusing),
    });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.details).toEqual([
      { field: "config.webhook_url", message: "webhook verification failed: GET answered HTTP 403" },
    ]);
    expect(refusing.verifications).toHaveLength(1);

    const good = await bot();
    const agent = await createWaAgent(ctx.app, user, good);
    expect(good.verifications).toHaveLength(1);
    const moved = await ctx.app.inject({
      method: "PUT",
      url: `/api/agents/${agent.id}`,
      headers: user.headers,
      payload: { config: payload(refusing).config },
    });
    expect(moved.statusCode).toBe(422);
    const kept = await ctx.app.inject({
      method: "GET",
      url: `/api/agents/${agent.id}`,
      headers: user.headers,
    });
    expect(kept.json().config.webhook_url).toBe(good.url);
  });

  it("needs what Mimic plays Meta with, and checks whatsapp_valid by default", async () => {
    const bare = await ctx.app.inject({
      method: "POST",
      url: "/api/agents",
      headers: user.headers,
      payload: {
        name: "Half-configured",
        type: "whatsapp",
        config: { webhook_url: "http://127.0.0.1:9/webhook", phone_number: "+15550100001", api_key: "token" },
      },
    });
    const refused = await ctx.app.inject({
      method: "POST",
      url: "/api/sessions",
      headers: user.headers,
      payload: { agentId: bare.json().id, personaId: persona.id },
    });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.details).toEqual([
      { field: "agentId.config.phone_number_id", message: "phone_number_id is required to run sessions" },
      { field: "agentId.config.app_secret", message: "app_secret is required to run sessions" },
      { field: "agentId.config.verify_token", message: "verify_token is required to run sessions" },
    ]);
    const b = await bot();
    const agent = await createWaAgent(ctx.app, user, b);
    b.setVerify("forbid");
    const session = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: FAST,
    });
    expect((session as unknown as { checks: unknown[] }).checks).toEqual([
      { type: "goal_reached" },
      { type: "all_answered" },
      { type: "whatsapp_valid" },
    ]);
    await waitForEnd(ctx.app, user, session.id);
  });
});

describe("a WhatsApp session", () => {
  it("tests an unmodified Cloud API bot that only points its Graph base URL at Mimic, and passes a good one", async () => {
    const b = await bot({ onMessage: shopBot });
    const agent = await createWaAgent(ctx.app, user, b);
    const session = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: FAST,
    });
    const done = await waitForVerdict(ctx.app, user, session.id);

    expect(done.status, done.reason ?? "").toBe("completed");
    expect(done.reason).toBe("goal reached");
    const { result } = done;
    expect(result.passed).toBe(true);
    expect(result.checks.find((c) => c.type === "whatsapp_valid")).toMatchObject({ passed: true });
    expect(b.errors).toEqual([]);

    // Meta's verification handshake came first.
    // When the agent was saved, and again before the session's first delivery.
    expect(b.verifications).toHaveLength(2);
    expect(b.verifications[0]!.get("hub.mode")).toBe("subscribe");
    expect(b.verifications[0]!.get("hub.verify_token")).toBe(b.settings.verifyToken);

    // Every webhook is Meta's format, signed with the app secret over the raw body.
    expect(b.deliveries.every((d) => d.signatureValid)).toBe(true);
    const first = JSON.parse(b.deliveries[0]!.raw);
    expect(first.object).toBe("whatsapp_business_account");
    const value = first.entry[0].changes[0].value;
    expect(first.entry[0].changes[0].field).toBe("messages");
    expect(value.metadata).toEqual({
      display_phone_number: "15550100001",
      phone_number_id: b.settings.phoneNumberId,
    });
    expect(value.contacts[0].profile.name).toBe("Late parcel");
    expect(value.messages[0]).toMatchObject({ type: "text", from: value.contacts[0].wa_id });
    expect(value.messages[0].id).toMatch(/^wamid\./);
    expect(value.messages[0].timestamp).toMatch(/^\d{10}$/);
    // One stable number for the persona throughout the session.
    expect(new Set(b.messages.map((m) => m.from)).size).toBe(1);

    // The persona tapped the button that serves its goal (new delivery date), in reply to the bot's message.
    const tap = b.messages.find((m) => m.type === "interactive");
    expect(tap?.interactive).toMatchObject({
      type: "button_reply",
      buttonReply: { id: "delivery", title: "New delivery date" },
    });
    const rows = await transcript(ctx.db, session.id);
    const menu = rows.find((r) => r.metadata?.whatsapp?.interactive?.type === "button")!;
    expect(menu.content).toBe(
      "Sorry to hear that! What would you like to do?\nOptions: [Refund] [New delivery date] [Talk to a human]",
    );
    expect(tap?.context?.id).toBe(menu.metadata.whatsapp!.id);

    // The transcript: types, the choice, statuses, the bot reading the persona, latency to the Graph call.
    expect(rows.map((r) => [r.senderType, r.metadata?.whatsapp?.type])).toEqual([
      ["persona", "text"],
      ["agent", "interactive"],
      ["persona", "interactive"],
      ["agent", "text"],
      ["persona", "text"],
      ["agent", "text"],
      ["persona", "text"],
    ]);
    expect(rows[2]!.content).toBe("New delivery date");
    expect(rows[2].metadata.whatsapp!.interactive).toEqual({
      type: "button_reply",
      choice: { id: "delivery", title: "New delivery date" },
    });
    expect(menu.metadata.whatsapp.statuses!.map((s) => s.status)).toEqual(["sent", "delivered", "read"]);
    expect(
      rows
        .filter((r) => r.senderType === "persona")
        .slice(0, -1)
        .every((r) => r.metadata?.whatsapp?.readByBot),
    ).toBe(true);
    expect(rows[0].metadata.whatsapp!.typing).toBe(true);
    for (const r of rows.filter((r) => r.senderType === "agent"))
      expect(r.latencyMs).toBeGreaterThanOrEqual(0);

    // Status webhooks: sent and delivered for each bot message, read once the persona answered it.
    const menuStatuses = b.statuses.filter((s) => s.id === menu.metadata.whatsapp!.id).map((s) => s.status);
    expect(menuStatuses).toEqual(["sent", "delivered", "read"]);
    expect(b.statuses.every((s) => s.recipientId === b.messages[0]!.from)).toBe(true);
  });

  it("shows an LLM persona the options, and sends its pick as a button reply", async () => {
    const b = await bot({ onMessage: shopBot });
    const agent = await createWaAgent(ctx.app, user, b);
    const llmPersona = await createPersona(ctx.app, user, { name: "LLM customer", provider: "openai" });
    const session = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: llmPersona.id,
      config: FAST,
    });
    const done = await waitForEnd(ctx.app, user, session.id);
    expect(done.reason).toBe("goal reached");
    expect(
      llm.requests.some((r) =>
        r.messages.some((m) => String(m.content).includes("Options: [Refund] [New delivery date]")),
      ),
    ).toBe(true);
    expect(b.messages.find((m) => m.type === "interactive")?.interactive?.buttonReply).toEqual({
      id: "delivery",
      title: "New delivery date",
    });
  });

  it("runs the `pnpm dev` demo bot, written with the same library, to a passing verdict", async () => {
    const settings = newWaSettings(graph);
    const demo = await startWhatsappDemoBot(0, settings);
    try {
      const agent = await createWaAgent(ctx.app, user, { url: demo.url, settings } as WaBot);
      const session = await startSession(ctx.app, user, {
        agentId: agent.id,
        personaId: persona.id,
        config: FAST,
      });
      const done = await waitForVerdict(ctx.app, user, session.id, 30_000);
      expect(done.reason).toBe("goal reached");
      expect(done.result.passed).toBe(true);
      expect(done.messages.map((m) => m.content)).toContain("New delivery date");
    } finally {
      await demo.close();
    }
  });

  it("fails the session when the webhook verification is refused or the challenge is not echoed", async () => {
    for (const [verify, reason] of [
      ["forbid", "agent unreachable: webhook verification failed: GET answered HTTP 403"],
      ["garble", "agent unreachable: webhook verification failed: the bot did not echo hub.challenge"],
    ] as const) {
      // Registered while it verified correctly; broken since.
      const b = await bot({ onMessage: shopBot });
      const agent = await createWaAgent(ctx.app, user, b);
      b.setVerify(verify);
      const session = await startSession(ctx.app, user, {
        agentId: agent.id,
        personaId: persona.id,
        config: FAST,
      });
      const done = await waitForEnd(ctx.app, user, session.id);
      expect(done.status).toBe("failed");
      expect(done.reason).toBe(reason);
      expect(b.deliveries).toEqual([]);
    }
  });

  it("signs each webhook with X-Hub-Signature-256, and fails a bot that rejects it after Meta-like retries", async () => {
    const b = await bot({ appSecretOverride: "not-the-app-secret" });
    const agent = await createWaAgent(ctx.app, user, b);
    const session = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: FAST,
    });
    const done = await waitForEnd(ctx.app, user, session.id);
    expect(done.status).toBe("failed");
    expect(done.reason).toBe("agent unreachable: agent answered HTTP 401");
    // The same message, retried with backoff through the engine's schedule.
    expect(b.deliveries).toHaveLength(3);
    expect(
      new Set(b.deliveries.map((d) => JSON.parse(d.raw).entry[0].changes[0].value.messages[0].id)).size,
    ).toBe(1);
    // sha256=<hex HMAC-SHA256(app secret, raw body)>: the bot's own secret would have verified it.
    const { raw, signature } = b.deliveries[0]!;
    expect(signature).toBe(`sha256=${createHmac("sha256", b.settings.appSecret).update(raw).digest("hex")}`);
  });

  it("delivers a message again, with the same wamid, when the bot does not answer 200", async () => {
    // Only the very first delivery fails.
    let failed = false;
    const b = await bot({
      onMessage: shopBot,
      status: () => {
        if (failed) return 200;
        failed = true;
        return 500;
      },
    });
    const agent = await createWaAgent(ctx.app, user, b);
    const session = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: FAST,
    });
    const done = await waitForEnd(ctx.app, user, session.id);
    expect(done.reason).toBe("goal reached");
    const ids = b.deliveries
      .map((d) => JSON.parse(d.raw).entry[0].changes[0].value.messages?.[0]?.id)
      .filter(Boolean);
    expect(ids[0]).toBe(ids[1]);
    expect(done.messages.filter((m) => m.senderType === "persona")[0]!.content).toMatch(/delivery date/);
  });

  it("fails whatsapp_valid when Graph refused a message of the bot, with the refusal in the transcript", async () => {
    const b = await bot({
      onMessage: async (message, self) => {
        // Four reply buttons, one title over 20 characters: Meta refuses it.
        await self.reply(message, (base) =>
          self.client.messages.sendRaw({
            phoneNumberId: base.phoneNumberId,
            payload: {
              messaging_product: "whatsapp",
              to: base.to,
              type: "interactive",
              interactive: {
                type: "button",
                body: { text: "Pick one" },
                action: {
                  buttons: [{ type: "reply", reply: { id: "a", title: "A title that is far too long" } }],
                },
              },
            },
          }),
        );
        return shopBot(message, self);
      },
    });
    const agent = await createWaAgent(ctx.app, user, b);
    const session = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: FAST,
    });
    const done = await waitForVerdict(ctx.app, user, session.id);
    expect(done.reason).toBe("goal reached");
    const error = b.errors[0] as GraphApiError;
    expect(error).toBeInstanceOf(GraphApiError);
    expect(error).toMatchObject({ httpStatus: 400, code: 131009 });
    expect(error.details).toMatch(/Button title length invalid/);
    const finding = done.messages.find((m) => m.senderType === "system");
    expect(finding?.content).toMatch(
      /^WhatsApp refused a message from the bot — \(#131009\) Parameter value is not valid: Button title length invalid/,
    );
    const { result } = done;
    expect(result.passed).toBe(false);
    expect(result.checks.find((c) => c.type === "whatsapp_valid")).toMatchObject({
      passed: false,
      detail: expect.stringMatching(
        /^\d+ Graph API calls? refused; first: #131009 Button title length invalid/,
      ),
    });
    expect(result.checks.find((c) => c.type === "goal_reached")).toMatchObject({ passed: true });
  });
});
