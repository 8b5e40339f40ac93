// The Graph surface a bot calls: every message type, Meta's refusals in Graph's error shape (each a finding in the
// transcript), the 24-hour window on the session's simulated clock, media, and who may call what.
import type { AddressInfo } from "node:net";
import { GraphApiError } from "@kapso/whatsapp-cloud-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPersona, ENGINE_ENV, startSession } from "../engine/fixtures.js";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import {
  createWaAgent,
  type InboundMessage,
  newWaSettings,
  startWaBot,
  transcript,
  until,
  type WaBot,
} from "./support.js";

let ctx: TestContext;
let base: string;
let user: TestUser;
let bot: WaBot;
let sessionId: string;
let first: InboundMessage;
const closers: (() => Promise<void>)[] = [];

/** Sends as the bot to the session's persona. */
const to = () => ({ phoneNumberId: bot.settings.phoneNumberId, to: `+${first.from}` });

/** What a call raised (the library throws GraphApiError for Graph's error envelope). */
async function refused(call: Promise<unknown>): Promise<GraphApiError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GraphApiError);
  return error as GraphApiError;
}

const graphPost = (path: string, body: unknown, token = bot.settings.accessToken) =>
  fetch(`${base}/whatsapp/v23.0/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

/** Graph calls per phone number id per window in this file (MIMIC_RATE_LIMIT_AGENT). */
const GRAPH_BUDGET = 60;

beforeAll(async () => {
  ctx = await createTestApp(
    { ...ENGINE_ENV, MIMIC_RATE_LIMIT_AGENT: String(GRAPH_BUDGET) },
    { engine: true },
  );
  await ctx.app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`;
  user = await registerUser(ctx.app);
  bot = await startWaBot(newWaSettings(`${base}/whatsapp`), {
    onMessage: (message, self) =>
      self.reply(message, (b) => self.client.messages.sendText({ ...b, body: "Hello! How can I help?" })),
  });
  closers.push(() => bot.close());
  const persona = await createPersona(ctx.app, user);
  const agent = await createWaAgent(ctx.app, user, bot);
  // One persona message, then a long pause: the test plays the bot meanwhile.
  const session = await startSession(ctx.app, user, {
    agentId: agent.id,
    personaId: persona.id,
    config: { duration: 600, maxMessages: 500, messageInterval: 300, replyTimeout: 300 },
  });
  sessionId = session.id;
  first = await until("the persona's first message", () => bot.messages[0]);
  await until("the bot's reply", async () => (await transcript(ctx.db, sessionId)).length >= 2);
});

afterAll(async () => {
  for (const close of closers) await close();
  await ctx?.close();
});

describe("the Graph messages endpoint", () => {
  it("accepts every message type and answers as Graph does", async () => {
    const before = (await transcript(ctx.db, sessionId)).length;
    const { messages } = bot.client;
    const sent = [
      await messages.sendText({ ...to(), body: "See https://shop.example/track", previewUrl: true }),
      await messages.sendInteractiveButtons({
        ...to(),
        header: { type: "text", text: "Your order" },
        bodyText: "What next?",
        footerText: "ShopCo",
        buttons: [
          { id: "track", title: "Track it" },
          { id: "cancel", title: "Cancel it" },
        ],
      }),
      await messages.sendInteractiveList({
        ...to(),
        bodyText: "Pick a delivery slot",
        buttonText: "Slots",
        sections: [
          {
            title: "Tomorrow",
            rows: [
              { id: "am", title: "Morning", description: "8–12" },
              { id: "pm", title: "Afternoon" },
            ],
          },
          { title: "Friday", rows: [{ id: "fri", title: "Any time" }] },
        ],
      }),
      await messages.sendInteractiveCtaUrl({
        ...to(),
        bodyText: "Track your parcel online",
        parameters: { displayText: "Track", url: "https://shop.example/track/1" },
      }),
      await messages.sendTemplate({
        ...to(),
        template: {
          name: "order_update",
          language: { code: "en_US" },
          components: [{ type: "body", parameters: [{ type: "text", text: "Thursday" }] }],
        },
      } as Parameters<typeof messages.sendTemplate>[0]),
      await messages.sendImage({
        ...to(),
        image: { link: "https://shop.example/parcel.jpg", caption: "Your parcel" },
      }),
      await messages.sendDocument({
        ...to(),
        document: { link: "https://shop.example/invoice.pdf", filename: "invoice.pdf", caption: "Invoice" },
      }),
      await messages.sendAudio({ ...to(), audio: { link: "https://shop.example/note.ogg" } }),
      await messages.sendVideo({ ...to(), video: { link: "https://shop.example/unboxing.mp4" } }),
      await messages.sendSticker({ ...to(), sticker: { link: "https://shop.example/thanks.webp" } }),
      await messages.sendReaction({ ...to(), reaction: { messageId: first.id, emoji: "👍" } }),
      await messages.sendLocation({
        ...to(),
        location: { latitude: 51.5072, longitude: -0.1276, name: "ShopCo depot", address: "London" },
      }),
      await messages.sendContacts({
        ...to(),
        contacts: [
          { name: { formattedName: "ShopCo Support" }, phones: [{ phone: "+15550100002", type: "WORK" }] },
        ],
      } as Parameters<typeof messages.sendContacts>[0]),
    ];
    for (const response of sent) {
      expect(response).toMatchObject({
        messagingProduct: "whatsapp",
        contacts: [{ input: `+${first.from}`, waId: first.from }],
      });
      expect(response.messages[0]!.id).toMatch(/^wamid\./);
    }
    expect((sent[4]!.messages[0] as { messageStatus?: string }).messageStatus).toBe("accepted");

    const rows = (await transcript(ctx.db, sessionId)).slice(before);
    expect(rows.map((r) => [r.senderType, r.metadata?.whatsapp?.type, r.content])).toEqual([
      ["agent", "text", "See https://shop.example/track"],
      ["agent", "interactive", "Your order\nWhat next?\nShopCo\nOptions: [Track it] [Cancel it]"],
      ["agent", "interactive", "Pick a delivery slot\nOptions: [Morning — 8–12] [Afternoon] [Any time]"],
      ["agent", "interactive", "Track your parcel online\nTrack: https://shop.example/track/1"],
      ["agent", "template", "[template order_update (en_US)] Thursday"],
      ["agent", "image", "[image] Your parcel"],
      ["agent", "document", "[document: invoice.pdf] Invoice"],
      ["agent", "audio", "[audio]"],
      ["agent", "video", "[video]"],
      ["agent", "sticker", "[sticker]"],
      ["agent", "reaction", "[reaction] 👍"],
      ["agent", "location", "[location] ShopCo depot, London (51.5072, -0.1276)"],
      ["agent", "contacts", "[contact] ShopCo Support +15550100002"],
    ]);
    expect(rows[2].metadata.whatsapp.interactive!.options).toEqual([
      { id: "am", title: "Morning", description: "8–12" },
      { id: "pm", title: "Afternoon" },
      { id: "fri", title: "Any time" },
    ]);
    expect(rows[4].metadata.whatsapp!.template).toEqual({ name: "order_update", language: "en_US" });
    // The same detail through the public API (what the SDK and the dashboard read).
    const listed = await ctx.app.inject({
      method: "GET",
      url: `/api/sessions/${sessionId}/messages?limit=100`,
      headers: user.headers,
    });
    const viaApi = (
      listed.json().data as { content: string; metadata?: { whatsapp?: { template?: unknown } } }[]
    ).find((m) => m.content.startsWith("[template order_update"));
    expect(viaApi?.metadata?.whatsapp?.template).toEqual({ name: "order_update", language: "en_US" });
    expect(rows[10].metadata.whatsapp!.context).toBe(first.id);
    expect(
      rows.every((r) => r.metadata?.whatsapp?.statuses?.map((s) => s.status).join() === "sent,delivered"),
    ).toBe(true);
    // sent and delivered, one webhook each, for every accepted message.
    const ids = sent.map((r) => r.messages[0]!.id);
    await until("status webhooks", () =>
      ids.every((id) => bot.statuses.filter((s) => s.id === id).length === 2),
    );
  });

  it("marks a persona message read, with a typing indicator", async () => {
    const response = await bot.client.messages.markRead({
      phoneNumberId: bot.settings.phoneNumberId,
      messageId: first.id,
      typingIndicator: { type: "text" },
    });
    expect(response).toEqual({ success: true });
    const persona = (await transcript(ctx.db, sessionId)).find((r) => r.senderType === "persona")!;
    expect(persona.metadata!.whatsapp).toMatchObject({
      id: first.id,
      typing: true,
      readByBot: expect.any(Number),
    });
  });

  it("refuses what Meta refuses, in Graph's error shape, and records each refusal as a finding", async () => {
    const findings = async () =>
      (await transcript(ctx.db, sessionId)).filter((r) => r.senderType === "system");
    const before = (await findings()).length;
    const cases: [() => Promise<unknown>, number, RegExp][] = [
      [
        () =>
          bot.client.messages.sendRaw({
            phoneNumberId: bot.settings.phoneNumberId,
            payload: {
              messaging_product: "whatsapp",
              to: first.from,
              type: "text",
              text: { body: "x".repeat(4097) },
            },
          }),
        131009,
        /text\.body length invalid/,
      ],
      [
        () =>
          bot.client.messages.sendRaw({
            phoneNumberId: bot.settings.phoneNumberId,
            payload: {
              messaging_product: "whatsapp",
              to: first.from,
              type: "interactive",
              interactive: {
                type: "button",
                body: { text: "Pick" },
                action: {
                  buttons: ["a", "b", "c", "d"].map((id) => ({ type: "reply", reply: { id, title: id } })),
                },
              },
            },
          }),
        131009,
        /between 1 and 3 items \(got 4\)/,
      ],
      [
        () =>
          bot.client.messages.sendRaw({
            phoneNumberId: bot.settings.phoneNumberId,
            payload: {
              messaging_product: "whatsapp",
              to: first.from,
              type: "interactive",
              interactive: {
                type: "list",
                body: { text: "Pick" },
                action: {
                  button: "Choose",
                  sections: [
                    {
                      title: "A",
                      rows: Array.from({ length: 6 }, (_, i) => ({ id: `a${i}`, title: `A${i}` })),
                    },
                    {
                      title: "B",
                      rows: Array.from({ length: 5 }, (_, i) => ({ id: `b${i}`, title: `B${i}` })),
                    },
                  ],
                },
              },
            },
          }),
        131009,
        /at most 10 rows in all \(got 11\)/,
      ],
      [
        () =>
          bot.client.messages.sendRaw({
            phoneNumberId: bot.settings.phoneNumberId,
            payload: { to: first.from, type: "text", text: { body: "hi" } },
          }),
        100,
        /messaging_product/,
      ],
      [
        () =>
          bot.client.messages.sendRaw({
            phoneNumberId: bot.settings.phoneNumberId,
            payload: { messaging_product: "whatsapp", to: first.from, type: "poll", poll: {} },
          }),
        100,
        /type must be one of/,
      ],
      [
        () => bot.client.messages.sendImage({ ...to(), image: { id: "123456789012345" } }),
        131009,
        /media id 123456789012345 was not uploaded/,
      ],
      [
        () =>
          bot.client.messages.sendText({
            phoneNumberId: bot.settings.phoneNumberId,
            to: "+15550000000",
            body: "Hello stranger",
          }),
        131030,
        /not the customer of a running session/,
      ],
    ];
    for (const [call, code, details] of cases) {
      const error = await refused(call());
      expect(error.httpStatus).toBe(400);
      expect(error.code).toBe(code);
      expect(error.details).toMatch(details);
      expect(error.fbtraceId).toBeTruthy();
    }
    // The envelope, exactly.
    const res = await graphPost(`${bot.settings.phoneNumberId}/messages`, {
      messaging_product: "whatsapp",
      to: first.from,
      text: {},
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body).toEqual({
      error: {
        message: "(#100) Invalid parameter",
        type: "OAuthException",
        code: 100,
        error_data: {
          messaging_product: "whatsapp",
          details: "The parameter text.body is required and must be a string",
        },
        fbtrace_id: expect.any(String),
      },
    });
    const recorded = (await findings()).slice(before);
    expect(recorded).toHaveLength(cases.length + 1);
    expect(recorded.map((r) => r.metadata?.whatsapp?.error?.code)).toEqual([
      131009, 131009, 131009, 100, 100, 131009, 131030, 100,
    ]);
    expect(recorded[0]!.content).toMatch(
      /^WhatsApp refused a message from the bot — \(#131009\) Parameter value is not valid: /,
    );
  });

  it("refuses free-form messages more than 24 hours after the persona's last one, on the session's simulated clock", async () => {
    const patch = (clockOffset: number) =>
      ctx.app.inject({
        method: "PATCH",
        url: `/api/sessions/${sessionId}`,
        headers: user.headers,
        payload: { metadata: { whatsapp: { clockOffset } } },
      });
    expect((await patch(25 * 3600)).statusCode).toBe(200);
    const error = await refused(bot.client.messages.sendText({ ...to(), body: "Are you still there?" }));
    expect(error).toMatchObject({ code: 131047, httpStatus: 400 });
    expect(error.details).toMatch(/more than 24 hours have passed/);
    // Templates are how a business re-opens the conversation.
    const template = await bot.client.messages.sendTemplate({
      ...to(),
      template: { name: "follow_up", language: { code: "en" } },
    } as Parameters<typeof bot.client.messages.sendTemplate>[0]);
    expect(template.messages[0]!.id).toMatch(/^wamid\./);
    // 23 hours later, the window is still open.
    expect((await patch(23 * 3600)).statusCode).toBe(200);
    await bot.client.messages.sendText({ ...to(), body: "Still here!" });
    expect((await patch(0)).statusCode).toBe(200);
  });

  it("uploads media, serves its metadata and bytes to the same token only, and sends it by id", async () => {
    const png = Buffer.from(
      "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
      "base64",
    );
    const uploaded = await bot.client.media.upload({
      phoneNumberId: bot.settings.phoneNumberId,
      type: "image/png",
      file: new Blob([png], { type: "image/png" }),
      fileName: "parcel.png",
    });
    expect(uploaded.id).toMatch(/^\d{15,16}$/);
    const meta = await bot.client.media.get({ mediaId: uploaded.id });
    expect(meta).toMatchObject({
      messagingProduct: "whatsapp",
      mimeType: "image/png",
      fileSize: png.length,
      id: uploaded.id,
    });
    const download = await fetch(meta.url, {
      headers: { authorization: `Bearer ${bot.settings.accessToken}` },
    });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(png)).toBe(true);
    const anonymous = await fetch(meta.url);
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json()).error.code).toBe(190);
    const stranger = await fetch(meta.url, { headers: { authorization: "Bearer someone-else" } });
    expect((await stranger.json()).error.code).toBe(100);

    const sent = await bot.client.messages.sendImage({
      ...to(),
      image: { id: uploaded.id, caption: "Here it is" },
    });
    expect(sent.messages[0]!.id).toMatch(/^wamid\./);

    const zip = await refused(
      bot.client.media.upload({
        phoneNumberId: bot.settings.phoneNumberId,
        type: "application/zip",
        file: new Blob([png], { type: "application/zip" }),
      }),
    );
    expect(zip).toMatchObject({ code: 131053 });
    await bot.client.media.delete({ mediaId: uploaded.id });
    expect(await refused(bot.client.media.get({ mediaId: uploaded.id }))).toMatchObject({ code: 100 });
  });
});

describe("who may call the Graph surface", () => {
  it("refuses a wrong token, a Mimic user token and an unknown phone number id", async () => {
    const call = (token: string, phoneNumberId = bot.settings.phoneNumberId) =>
      graphPost(
        `${phoneNumberId}/messages`,
        { messaging_product: "whatsapp", to: first.from, text: { body: "hi" } },
        token,
      );
    for (const token of ["not-the-token", user.token]) {
      const res = await call(token);
      expect(res.status).toBe(401);
      const body = await res.json();
      expect(body.error).toMatchObject({ code: 190, type: "OAuthException" });
    }
    const unknown = await call(bot.settings.accessToken, "999999999999999");
    expect(unknown.status).toBe(400);
    expect((await unknown.json()).error).toMatchObject({ code: 100, error_subcode: 33 });
  });

  it("keeps every other user's sessions and numbers out of reach", async () => {
    const other = await registerUser(ctx.app);
    const theirBot = await startWaBot(newWaSettings(`${base}/whatsapp`));
    closers.push(() => theirBot.close());
    await createWaAgent(ctx.app, other, theirBot);
    const before = (await transcript(ctx.db, sessionId)).length;
    // Their token on my phone number id, my token on theirs: 190 (Graph checks the token against the number).
    for (const [token, number] of [
      [theirBot.settings.accessToken, bot.settings.phoneNumberId],
      [bot.settings.accessToken, theirBot.settings.phoneNumberId],
    ] as const) {
      const res = await graphPost(
        `${number}/messages`,
        { messaging_product: "whatsapp", to: first.from, text: { body: "hi" } },
        token,
      );
      expect((await res.json()).error.code).toBe(190);
    }
    // Their bot, properly authenticated, cannot write to my persona: not a customer of theirs.
    const error = await refused(
      theirBot.client.messages.sendText({
        phoneNumberId: theirBot.settings.phoneNumberId,
        to: first.from,
        body: "hi",
      }),
    );
    expect(error.code).toBe(131030);
    expect((await transcript(ctx.db, sessionId)).length).toBe(before);
  });
});

describe("the Graph surface's rate limit", () => {
  it("counts per phone number id and token, answers Graph's 130429 when spent, and leaves the IP budget alone", async () => {
    const numbers = [newWaSettings(`${base}/whatsapp`), newWaSettings(`${base}/whatsapp`)];
    for (const settings of numbers) {
      // A real webhook: Mimic verifies it when the agent is saved.
      const numberBot = await startWaBot(settings);
      closers.push(() => numberBot.close());
      await createWaAgent(ctx.app, user, numberBot);
    }
    const call = (i: number) =>
      ctx.app.inject({
        method: "POST",
        url: `/whatsapp/v23.0/${numbers[i]!.phoneNumberId}/messages`,
        headers: { authorization: `Bearer ${numbers[i]!.accessToken}` },
        payload: { messaging_product: "whatsapp", to: "15550000000", text: { body: "hi" } },
      });
    const anonymous = async () =>
      Number((await ctx.app.inject({ method: "GET", url: "/api/auth/me" })).headers["x-ratelimit-remaining"]);
    const anonymousBefore = await anonymous();
    for (let n = 0; n < GRAPH_BUDGET; n++) expect((await call(0)).json().error.code).toBe(131030);
    const spent = await call(0);
    expect(spent.statusCode).toBe(429);
    expect(spent.json().error).toMatchObject({ code: 130429, message: "(#130429) Rate limit hit" });
    expect(spent.headers["x-ratelimit-limit"]).toBe(String(GRAPH_BUDGET));
    // Another number has its own budget, and so has a caller with another token; anonymous API callers from the
    // same IP still have theirs.
    expect((await call(1)).statusCode).toBe(400);
    const stranger = await ctx.app.inject({
      method: "POST",
      url: `/whatsapp/v23.0/${numbers[0]!.phoneNumberId}/messages`,
      headers: { authorization: "Bearer guessing" },
      payload: { messaging_product: "whatsapp", to: "15550000000", text: { body: "hi" } },
    });
    expect(stranger.json().error.code).toBe(190);
    expect(await anonymous()).toBe(anonymousBefore - 1);
  });
});
