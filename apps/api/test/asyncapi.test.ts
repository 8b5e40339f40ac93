import specs from "@asyncapi/specs";
import { Ajv } from "ajv";
import formats from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type WebSocket from "ws";
import { liveEventSchemas } from "../src/modules/sessions/schemas.js";
import { createTestApp, registerUser, type TestContext, type TestUser } from "./helpers.js";

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON documents, walked freely
type Json = Record<string, any>;

let ctx: TestContext;
let doc: Json;
beforeAll(async () => {
  ctx = await createTestApp();
  const res = await ctx.app.inject({ method: "GET", url: "/asyncapi.json" });
  expect(res.statusCode).toBe(200);
  doc = res.json();
});
afterAll(() => ctx.close());

/** A validator for the payload of each message of the document, its $refs resolved within the document. */
function payloadValidators() {
  const ajv = new Ajv({ strict: false, allErrors: true });
  formats.default(ajv);
  ajv.addSchema(doc, "asyncapi");
  return Object.fromEntries(
    Object.entries(doc.components.messages as Record<string, Json>).map(([id, message]) => {
      const ref = String(message.payload.$ref);
      return [id, ajv.compile({ $ref: `asyncapi${ref}` })];
    }),
  );
}

describe("the AsyncAPI document at /asyncapi.json", () => {
  it("is a valid AsyncAPI 3.0.0 document (the specification's own JSON Schema)", () => {
    // The specification embeds its own copy of the draft-07 meta-schema: Ajv must not bring another.
    const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false, meta: false });
    formats.default(ajv);
    const validate = ajv.compile(specs.schemas["3.0.0"]);
    const valid = validate(doc);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);
    expect(doc.asyncapi).toBe("3.0.0");
  });

  it("describes the /api/ws channel, its messages, and a send or receive operation for each", () => {
    const channel = doc.channels.liveEvents;
    expect(channel.address).toBe("/api/ws");
    const messageIds = Object.keys(channel.messages);
    expect(messageIds.sort()).toEqual(
      [
        "SubscribeMessage",
        "UnsubscribeMessage",
        "SessionUpdateEvent",
        "NewMessageEvent",
        "SessionEndEvent",
        "SubscriptionEvent",
        "LiveErrorEvent",
      ].sort(),
    );
    const operations = Object.values(doc.operations as Record<string, Json>);
    const actionOf = (id: string) =>
      operations.find((op) => op.messages[0].$ref === `#/channels/liveEvents/messages/${id}`)?.action;
    // The document describes the server: it receives what clients send and sends the events.
    expect(actionOf("SubscribeMessage")).toBe("receive");
    expect(actionOf("UnsubscribeMessage")).toBe("receive");
    for (const id of [
      "SessionUpdateEvent",
      "NewMessageEvent",
      "SessionEndEvent",
      "SubscriptionEvent",
      "LiveErrorEvent",
    ])
      expect(actionOf(id), id).toBe("send");
    for (const op of operations) expect(op.channel).toEqual({ $ref: "#/channels/liveEvents" });
    expect(doc.components.messages.SessionUpdateEvent).toMatchObject({
      title: "session_update",
      contentType: "application/json",
      payload: { $ref: "#/components/schemas/SessionUpdateEvent" },
    });
    expect(doc.components.securitySchemes.queryToken).toMatchObject({
      type: "httpApiKey",
      in: "query",
      name: "token",
    });
  });

  it("is generated from the live-event schemas: every field of every event, and what they reference", () => {
    for (const schema of liveEventSchemas) {
      const id = schema.$id!;
      if (id === "LiveEvent" || id === "LiveClientMessage") continue;
      const generated = doc.components.schemas[id];
      expect(generated, id).toBeDefined();
      expect(Object.keys(generated.properties).sort(), id).toEqual(
        Object.keys(schema.properties ?? {}).sort(),
      );
      expect(generated.required ?? [], id).toEqual(schema.required ?? []);
    }
    // Referenced components come along (the verdict on session_end), with refs pointing inside the document.
    expect(doc.components.schemas.SessionResult).toBeDefined();
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of new Set(refs)) {
      expect(ref).toMatch(/"\$ref":"#\//);
      let node: unknown = doc;
      for (const key of ref.slice('"$ref":"#/'.length, -1).split("/"))
        node = (node as Json | undefined)?.[key];
      expect(node, ref).toBeDefined();
    }
  });

  it("matches what the server really sends and accepts on /api/ws", async () => {
    const validators = payloadValidators();
    const user: TestUser = await registerUser(ctx.app);
    const post = (url: string, payload: object) =>
      ctx.app.inject({ method: "POST", url, headers: user.headers, payload });
    const persona = (await post("/api/personas", { name: "P", prompt: "p" })).json();
    const agent = (
      await post("/api/agents", {
        name: "A",
        type: "webhook",
        config: { webhook_url: "https://bot.example.com/h" },
      })
    ).json();
    const session = (await post("/api/sessions", { personaId: persona.id, agentId: agent.id })).json();

    const socket: WebSocket = await ctx.app.injectWS("/api/ws", { headers: user.headers });
    const events: Json[] = [];
    socket.on("message", (data) => events.push(JSON.parse(data.toString())));
    const send = (message: Json) => {
      // What the client sends is valid by the document too.
      const id = message.type === "subscribe" ? "SubscribeMessage" : "UnsubscribeMessage";
      expect(validators[id]!(message), JSON.stringify(validators[id]!.errors)).toBe(true);
      socket.send(JSON.stringify(message));
    };
    try {
      send({ type: "subscribe", sessionId: session.id });
      await expect
        .poll(() => events.some((e) => e.type === "session_update"), { timeout: 10_000 })
        .toBe(true);
      await post(`/api/sessions/${session.id}/messages`, { senderType: "persona", content: "Hello?" });
      await expect.poll(() => events.some((e) => e.type === "new_message"), { timeout: 10_000 }).toBe(true);
      await ctx.app.inject({ method: "DELETE", url: `/api/sessions/${session.id}`, headers: user.headers });
      await expect.poll(() => events.some((e) => e.type === "session_end"), { timeout: 10_000 }).toBe(true);
      send({ type: "subscribe", sessionId: crypto.randomUUID() });
      send({ type: "unsubscribe", sessionId: session.id });
      await expect.poll(() => events.some((e) => e.type === "unsubscribed"), { timeout: 10_000 }).toBe(true);
      await expect.poll(() => events.some((e) => e.type === "error"), { timeout: 10_000 }).toBe(true);
    } finally {
      socket.terminate();
    }

    const messageFor = (event: Json) =>
      Object.entries(doc.components.messages as Record<string, Json>).find(
        ([id, message]) =>
          !id.endsWith("Message") && String(message.title).split(" | ").includes(String(event.type)),
      )?.[0];
    const seen = new Set<string>();
    for (const event of events) {
      const id = messageFor(event);
      expect(id, `no message in the document for ${JSON.stringify(event)}`).toBeDefined();
      expect(
        validators[id]!(event),
        `${JSON.stringify(event)}: ${JSON.stringify(validators[id]!.errors)}`,
      ).toBe(true);
      seen.add(id!);
    }
    expect([...seen].sort()).toEqual(
      [
        "LiveErrorEvent",
        "NewMessageEvent",
        "SessionEndEvent",
        "SessionUpdateEvent",
        "SubscriptionEvent",
      ].sort(),
    );
  });
});
