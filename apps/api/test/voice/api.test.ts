// The API side of voice agents: what a voice session needs to start (a ws:// url, an STT endpoint on the
// server), where voice checks apply, a persona's voice settings, and the audio of a call's turns.
import { randomUUID } from "node:crypto";
import { messageAudio, messages } from "@mimic/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAgent, createPersona } from "../engine/fixtures.js";
import { createTestApp, expectError, registerUser, type TestContext, type TestUser } from "../helpers.js";

const STT_ENV = {
  MIMIC_STT_BASE_URL: "http://127.0.0.1:9/v1",
  MIMIC_STT_API_KEY: "stt-key",
  MIMIC_STT_MODEL: "whisper-tiny",
};

/** Without STT (the default server). */
let ctx: TestContext;
/** The same database behind a server with STT configured. */
let withStt: TestContext;
let user: TestUser;
let persona: { id: string };

beforeAll(async () => {
  ctx = await createTestApp();
  withStt = await createTestApp(STT_ENV, { db: ctx.db });
  user = await registerUser(ctx.app);
  persona = await createPersona(ctx.app, user);
});
afterAll(async () => {
  await withStt?.app.close();
  await ctx?.close();
});

const post = (context: TestContext, url: string, payload: object, as = user) =>
  context.app.inject({ method: "POST", url, headers: as.headers, payload });
const get = (context: TestContext, url: string, as: TestUser | null = user) =>
  context.app.inject({ method: "GET", url, headers: as ? as.headers : {} });

const voiceAgent = (config: Record<string, unknown>) => createAgent(ctx.app, user, config, "voice");

describe("starting a voice session", () => {
  it("needs a ws:// or wss:// url: calling a phone number is not supported", async () => {
    const byPhone = await voiceAgent({ phone_number: "+15550100001" });
    const error = expectError(
      await post(withStt, "/api/sessions", { agentId: byPhone.id, personaId: persona.id }),
      422,
      "VALIDATION_ERROR",
    );
    expect(error.message).toBe(
      "voice agents need a `url` (ws:// or wss://) to run: Mimic connects as Twilio Media Streams; calling `phone_number` is not supported",
    );
    expect(error.details).toEqual([{ field: "agentId.config.url", message: "is required to run sessions" }]);

    const overHttp = await voiceAgent({ url: "https://bot.example.com/voice" });
    const http = expectError(
      await post(withStt, "/api/sessions", { agentId: overHttp.id, personaId: persona.id }),
      422,
      "VALIDATION_ERROR",
    );
    expect(http.message).toMatch(/^voice agents need a `url` \(ws:\/\/ or wss:\/\/\)/);
    expect(http.details).toEqual([
      { field: "agentId.config.url", message: "must be a ws:// or wss:// URL to run sessions, not https://" },
    ]);
  });

  it("needs a speech-to-text endpoint on the server, and says which variables", async () => {
    const agent = await voiceAgent({ url: "wss://bot.example.com/media" });
    const error = expectError(
      await post(ctx, "/api/sessions", { agentId: agent.id, personaId: persona.id }),
      422,
      "VALIDATION_ERROR",
    );
    for (const name of ["MIMIC_STT_BASE_URL", "MIMIC_STT_API_KEY", "MIMIC_STT_MODEL"])
      expect(error.message).toContain(name);
    expect(error.details?.[0]?.field).toBe("agentId");
    // Nothing was written.
    const list = (await get(ctx, `/api/sessions?agentId=${agent.id}`)).json();
    expect(list.pagination.total).toBe(0);
  });

  it("starts with STT configured, and checks voice_valid by default", async () => {
    const agent = await voiceAgent({ url: "wss://bot.example.com/media" });
    const res = await post(withStt, "/api/sessions", {
      agentId: agent.id,
      personaId: persona.id,
      checks: [
        { type: "first_audio_within", ms: 1500 },
        { type: "no_long_silence", ms: 8000 },
      ],
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json()).toMatchObject({ status: "pending", agentId: agent.id });
    expect(res.json().checks).toEqual([
      { type: "goal_reached" },
      { type: "all_answered" },
      { type: "voice_valid" },
      { type: "first_audio_within", ms: 1500 },
      { type: "no_long_silence", ms: 8000 },
    ]);
  });

  it("applies the same rules to every run of a repeat group", async () => {
    const byPhone = await voiceAgent({ phone_number: "+15550100002" });
    expectError(
      await post(withStt, "/api/sessions", { agentId: byPhone.id, personaId: persona.id, repeat: 3 }),
      422,
      "VALIDATION_ERROR",
    );
    const list = (await get(ctx, `/api/sessions?agentId=${byPhone.id}`)).json();
    expect(list.pagination.total).toBe(0);
  });

  it("applies them again when a session is repeated: the agent or the server may have changed", async () => {
    const agent = await voiceAgent({ url: "ws://bot.example.com/media" });
    const created = await post(withStt, "/api/sessions", { agentId: agent.id, personaId: persona.id });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id;
    const repeated = await post(withStt, `/api/sessions/${id}/repeat?times=2`, {});
    expect(repeated.statusCode, repeated.body).toBe(201);
    expect(repeated.json().total).toBe(2);
    // A server without STT refuses to repeat it.
    const noStt = expectError(
      await post(ctx, `/api/sessions/${id}/repeat?times=2`, {}),
      422,
      "VALIDATION_ERROR",
    );
    expect(noStt.message).toContain("MIMIC_STT_BASE_URL");
    // So does an agent whose url is no longer a WebSocket.
    const moved = await ctx.app.inject({
      method: "PUT",
      url: `/api/agents/${agent.id}`,
      headers: user.headers,
      payload: { config: { url: "https://bot.example.com/voice" } },
    });
    expect(moved.statusCode, moved.body).toBe(200);
    const error = expectError(
      await post(withStt, `/api/sessions/${id}/repeat?times=2`, {}),
      422,
      "VALIDATION_ERROR",
    );
    expect(error.details?.[0]?.field).toBe("agentId.config.url");
  });
});

describe("voice checks", () => {
  it("are refused on a session whose agent is not voice, naming the check", async () => {
    const webhook = await createAgent(ctx.app, user, { webhook_url: "https://bot.example.com/hook" });
    const error = expectError(
      await post(ctx, "/api/sessions", {
        agentId: webhook.id,
        personaId: persona.id,
        checks: [{ type: "all_answered" }, { type: "no_long_silence", ms: 3000 }, { type: "voice_valid" }],
      }),
      422,
      "VALIDATION_ERROR",
    );
    expect(error.details).toEqual([
      { field: "checks[1]", message: "no_long_silence applies to voice agents only (this agent is webhook)" },
      { field: "checks[2]", message: "voice_valid applies to voice agents only (this agent is webhook)" },
    ]);
  });

  it("are accepted on a persona, which may be used with any agent: other agents' sessions leave them out", async () => {
    const voicePersona = await createPersona(ctx.app, user, {
      goal: null,
      checks: [
        { type: "first_audio_within", ms: 1200 },
        { type: "must_match", pattern: "parcel" },
      ],
    });
    const webhook = await createAgent(ctx.app, user, { webhook_url: "https://bot.example.com/hook" });
    const plain = await post(ctx, "/api/sessions", { agentId: webhook.id, personaId: voicePersona.id });
    expect(plain.statusCode, plain.body).toBe(201);
    expect(plain.json().checks).toEqual([
      { type: "all_answered" },
      { type: "must_match", pattern: "parcel" },
    ]);

    const voice = await voiceAgent({ url: "wss://bot.example.com/media" });
    const called = await post(withStt, "/api/sessions", { agentId: voice.id, personaId: voicePersona.id });
    expect(called.statusCode, called.body).toBe(201);
    expect(called.json().checks).toEqual([
      { type: "all_answered" },
      { type: "first_audio_within", ms: 1200 },
      { type: "must_match", pattern: "parcel" },
      { type: "voice_valid" },
    ]);
  });

  it("take an integer ms from 1 to 600000", async () => {
    const voice = await voiceAgent({ url: "wss://bot.example.com/media" });
    for (const check of [
      { type: "first_audio_within" },
      { type: "first_audio_within", ms: 0 },
      { type: "no_long_silence", ms: 600_001 },
      { type: "no_long_silence", ms: 1.5 },
      { type: "voice_valid", ms: 10 },
    ]) {
      const res = await post(withStt, "/api/sessions", {
        agentId: voice.id,
        personaId: persona.id,
        checks: [check],
      });
      expectError(res, 422, "VALIDATION_ERROR");
    }
  });
});

describe("a persona's voice", () => {
  const create = (config: object) =>
    post(ctx, "/api/personas", { name: "Caller", prompt: "You call about a late parcel.", config });

  it("is stored, returned and updated with the rest of its config", async () => {
    const res = await create({ replyTimeout: 20, voice: { voice: "slt", interruptAfterMs: 1500 } });
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().config).toEqual({ replyTimeout: 20, voice: { voice: "slt", interruptAfterMs: 1500 } });
    const id = res.json().id;
    expect((await get(ctx, `/api/personas/${id}`)).json().config.voice).toEqual({
      voice: "slt",
      interruptAfterMs: 1500,
    });
    const updated = await ctx.app.inject({
      method: "PUT",
      url: `/api/personas/${id}`,
      headers: user.headers,
      payload: { config: { voice: { voice: "kal" } } },
    });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json().config).toEqual({ voice: { voice: "kal" } });
    const listed = (await get(ctx, "/api/personas?limit=100"))
      .json()
      .data.find((p: { id: string }) => p.id === id);
    expect(listed.config).toEqual({ voice: { voice: "kal" } });
  });

  it("is one of the offline voices, with a barge-in between 100 ms and 60 s", async () => {
    for (const voice of ["kal", "slt", "rms", "awb"])
      expect((await create({ voice: { voice } })).statusCode).toBe(201);
    for (const interruptAfterMs of [100, 60_000])
      expect((await create({ voice: { interruptAfterMs } })).statusCode).toBe(201);
    const bad = expectError(await create({ voice: { voice: "alloy" } }), 422, "VALIDATION_ERROR");
    expect(bad.details?.[0]?.field).toMatch(/^config\.voice\.voice/);
    for (const interruptAfterMs of [99, 60_001, 250.5, "500"]) {
      const error = expectError(await create({ voice: { interruptAfterMs } }), 422, "VALIDATION_ERROR");
      expect(error.details?.[0]?.field).toBe("config.voice.interruptAfterMs");
    }
    expectError(await create({ voice: { speed: 2 } }), 422, "VALIDATION_ERROR");
    expectError(await create({ voice: "kal" }), 422, "VALIDATION_ERROR");
  });
});

/** A tiny but valid WAV file: 8 kHz, 16-bit, mono, `samples` samples of a ramp. */
function wavFile(samples: number): Buffer {
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(((i * 97) % 65_536) - 32_768, i * 2);
  const header = Buffer.alloc(44);
  header.write("RIFF", 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVEfmt ", 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16_000, 28);
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36);
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

describe("GET /api/sessions/{id}/messages/{messageId}/audio", () => {
  let sessionId: string;
  let otherSessionId: string;
  const spoken = randomUUID();
  const textOnly = randomUUID();
  const elsewhere = randomUUID();
  const wav = wavFile(4000);

  beforeAll(async () => {
    const agent = await voiceAgent({ url: "wss://bot.example.com/media" });
    const start = async () => {
      const res = await post(withStt, "/api/sessions", { agentId: agent.id, personaId: persona.id });
      expect(res.statusCode, res.body).toBe(201);
      return res.json().id as string;
    };
    sessionId = await start();
    otherSessionId = await start();
    await ctx.db.db.insert(messages).values([
      {
        id: spoken,
        sessionId,
        senderType: "agent",
        content: "Your parcel arrives on Thursday.",
        latencyMs: 700,
        metadata: { voice: { startMs: 2500, endMs: 4200, firstAudioMs: 700, talkOver: false, audio: true } },
      },
      {
        id: textOnly,
        sessionId,
        senderType: "persona",
        content: "Thanks!",
        metadata: { voice: { dtmf: "1#" } },
      },
      {
        id: elsewhere,
        sessionId: otherSessionId,
        senderType: "agent",
        content: "Hello",
        metadata: { voice: { audio: true } },
      },
    ]);
    await ctx.db.db.insert(messageAudio).values([
      { messageId: spoken, sessionId, durationMs: 500, wav },
      { messageId: elsewhere, sessionId: otherSessionId, durationMs: 500, wav: wavFile(10) },
    ]);
  });

  it("answers the stored WAV bytes, inline and privately cacheable", async () => {
    const res = await get(withStt, `/api/sessions/${sessionId}/messages/${spoken}/audio`);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("audio/wav");
    expect(res.headers["content-length"]).toBe(String(wav.length));
    expect(res.headers["content-disposition"]).toBe(`inline; filename="${spoken}.wav"`);
    expect(res.headers["cache-control"]).toMatch(/^private\b/);
    expect(res.rawPayload.equals(wav)).toBe(true);
  });

  it("answers 404 for another user's session, as if it did not exist", async () => {
    const stranger = await registerUser(ctx.app);
    const res = await get(withStt, `/api/sessions/${sessionId}/messages/${spoken}/audio`, stranger);
    const error = expectError(res, 404, "RESOURCE_NOT_FOUND");
    expect(res.body).not.toContain("RIFF");
    expect(error.message).toBe("Session not found");
  });

  it("answers 404 for a message without audio, one of another session, or one that does not exist", async () => {
    for (const messageId of [textOnly, elsewhere, randomUUID(), "not-a-uuid"])
      expectError(
        await get(withStt, `/api/sessions/${sessionId}/messages/${messageId}/audio`),
        404,
        "RESOURCE_NOT_FOUND",
      );
    expect(
      expectError(
        await get(withStt, `/api/sessions/${sessionId}/messages/${textOnly}/audio`),
        404,
        "RESOURCE_NOT_FOUND",
      ).message,
    ).toBe("This message has no audio");
    // A malformed session id is an unknown one, as on every other session route.
    expectError(await get(withStt, `/api/sessions/nope/messages/${spoken}/audio`), 404, "RESOURCE_NOT_FOUND");
  });

  it("needs authentication", async () => {
    expectError(
      await get(withStt, `/api/sessions/${sessionId}/messages/${spoken}/audio`, null),
      401,
      "AUTHENTICATION_ERROR",
    );
  });

  it("is announced by the message's voice metadata, which the transcript carries", async () => {
    const detail = (await get(withStt, `/api/sessions/${sessionId}`)).json();
    expect(detail.messages.find((m: { id: string }) => m.id === spoken).metadata).toEqual({
      voice: { startMs: 2500, endMs: 4200, firstAudioMs: 700, talkOver: false, audio: true },
    });
    const page = (await get(withStt, `/api/sessions/${sessionId}/messages`)).json();
    expect(page.data.map((m: { metadata?: unknown }) => m.metadata)).toEqual([
      { voice: { startMs: 2500, endMs: 4200, firstAudioMs: 700, talkOver: false, audio: true } },
      { voice: { dtmf: "1#" } },
    ]);
  });
});

describe("the OpenAPI document", () => {
  it("describes the audio download as binary WAV, and the voice fields of messages and personas", async () => {
    const doc = (await get(ctx, "/openapi.json", null)).json();
    const operation = doc.paths["/api/sessions/{id}/messages/{messageId}/audio"].get;
    expect(operation).toMatchObject({
      operationId: "getSessionMessageAudio",
      "x-sdk-resource": "sessions.messages",
      "x-sdk-method": "audio",
    });
    expect(operation.responses["200"].content).toEqual({
      "audio/wav": { schema: { type: "string", format: "binary" } },
    });
    expect(operation.responses["404"]).toBeDefined();
    const schemas = doc.components.schemas;
    expect(schemas.Message.properties.metadata.properties.voice).toEqual({
      $ref: "#/components/schemas/VoiceMessageMeta",
    });
    expect(Object.keys(schemas.VoiceMessageMeta.properties)).toEqual([
      "startMs",
      "endMs",
      "firstAudioMs",
      "talkOver",
      "bargeIn",
      "dtmf",
      "silent",
      "audio",
      "finding",
    ]);
    expect(schemas.PersonaConfig.properties.voice).toEqual({
      $ref: "#/components/schemas/PersonaVoiceConfig",
    });
    const checkTypes = schemas.SessionCheck.oneOf.map(
      (v: { properties: { type: { enum: string[] } } }) => v.properties.type.enum[0],
    );
    expect(checkTypes).toEqual(
      expect.arrayContaining(["voice_valid", "first_audio_within", "no_long_silence"]),
    );
  });
});
