// Voice sessions end to end: the real engine calls a Twilio Media Streams bot on loopback that speaks with flite
// and listens through a local OpenAI-compatible STT server; Mimic transcribes the bot through the same server.
import { messageAudio } from "@mimic/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INTERJECTION } from "../../src/channels/voice/adapter.js";
import { pcmFromWav } from "../../src/channels/voice/audio.js";
import { createAgent, createPersona, ENGINE_ENV, startSession, waitForEnd } from "../engine/fixtures.js";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { type SttServer, startSttServer } from "../support/stt-server.js";
import { startVoiceBot, type VoiceBot } from "../support/voice-bot.js";

const GREETING = "Thanks for calling ShopCo. How can I help?";
const LINES = ["Hello, my parcel is late.", "The order number is four five six.", "Thank you, goodbye."];
const DIGITS_LINE = "Here is my account number.";
const REPLIES: Record<string, string> = {
  [LINES[0]!]: "Sorry about that. What is your order number?",
  [LINES[1]!]: "Order four five six arrives on Thursday.",
  [LINES[2]!]: "You are welcome. Goodbye.",
  [DIGITS_LINE]: "Thank you. One moment please.",
};
const LONG_REPLY =
  "Let me read you our full delivery policy. Parcels ship within two working days, and arrive three to five days later, weather permitting.";
const reply = (heard: string) => REPLIES[heard] ?? (heard ? LONG_REPLY : undefined);

let ctx: TestContext;
let user: TestUser;
let stt: SttServer;
const bots: VoiceBot[] = [];

beforeAll(async () => {
  stt = await startSttServer({
    phrases: [GREETING, ...LINES, ...Object.values(REPLIES), LONG_REPLY, INTERJECTION, DIGITS_LINE],
  });
  ctx = await createTestApp(
    {
      ...ENGINE_ENV,
      MIMIC_AGENT_TIMEOUT_MS: "15000",
      MIMIC_STT_BASE_URL: stt.url,
      MIMIC_STT_API_KEY: "stt-key-0001",
      MIMIC_STT_MODEL: "whisper-test",
      MIMIC_VOICE_SILENCE_MS: "500",
    },
    { engine: true },
  );
  user = await registerUser(ctx.app);
}, 30_000);
afterAll(async () => {
  await ctx.close();
  await Promise.all(bots.map((b) => b.close()));
  await stt.close();
});

async function bot(options: Partial<Parameters<typeof startVoiceBot>[0]> = {}) {
  const started = await startVoiceBot({ stt: stt.url, reply, ...options });
  bots.push(started);
  return started;
}

async function voiceAgent(url: string, extra: Record<string, unknown> = {}) {
  return createAgent(ctx.app, user, { url, ...extra }, "voice");
}

interface VoiceMeta {
  startMs?: number;
  endMs?: number;
  firstAudioMs?: number;
  talkOver?: boolean;
  bargeIn?: { afterMs: number; clearedAfterMs: number | null };
  dtmf?: string;
  silent?: boolean;
  audio?: boolean;
  finding?: string;
}
type Msg = {
  id: string;
  senderType: string;
  content: string;
  latencyMs: number | null;
  metadata?: { voice?: VoiceMeta };
};

/** A Media Streams message as the bot received it. */
interface Frame {
  event: string;
  sequenceNumber?: string;
  streamSid?: string;
  start?: Record<string, unknown>;
  media?: { track: string; chunk: string; timestamp: string; payload: string };
  stop?: Record<string, string>;
}
const framesOf = (call: VoiceBot["calls"][number]) => call.events.map((e) => e.message as unknown as Frame);

async function transcript(sessionId: string): Promise<Msg[]> {
  const res = await ctx.app.inject({
    method: "GET",
    url: `/api/sessions/${sessionId}/messages?limit=100`,
    headers: user.headers,
  });
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { data: Msg[] }).data;
}

async function verdict(sessionId: string) {
  const res = await ctx.app.inject({
    method: "GET",
    url: `/api/sessions/${sessionId}`,
    headers: user.headers,
  });
  return res.json() as {
    status: string;
    result: { passed: boolean; checks: { type: string; status: string; detail: string }[] } | null;
  };
}

async function waitForVerdict(sessionId: string) {
  await waitForEnd(ctx.app, user, sessionId, 60_000);
  await expect.poll(async () => (await verdict(sessionId)).result, { timeout: 10_000 }).not.toBeNull();
  return verdict(sessionId);
}

describe("a voice session against a Twilio Media Streams bot", () => {
  it("greets, hears each persona line, answers, and passes its verdict", async () => {
    const voiceBot = await bot({ greeting: GREETING, mark: true });
    const persona = await createPersona(ctx.app, user, { goal: null, script: LINES });
    const agent = await voiceAgent(voiceBot.url, {
      api_key: "voice-bot-key-0001",
      custom_parameters: { tenant: "shopco", locale: "en-US" },
    });
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 7, messageInterval: 0.2, replyTimeout: 8, duration: 120 },
      checks: [
        { type: "first_audio_within", ms: 2000 },
        { type: "no_long_silence", ms: 4000 },
        { type: "must_match", pattern: "thursday" },
      ],
    });
    const ended = await waitForVerdict(created.id);
    const messages = await transcript(created.id);
    expect(messages.map((m) => [m.senderType, m.content])).toEqual([
      ["agent", GREETING],
      ["persona", LINES[0]],
      ["agent", REPLIES[LINES[0]!]],
      ["persona", LINES[1]],
      ["agent", REPLIES[LINES[1]!]],
      ["persona", LINES[2]],
      ["agent", REPLIES[LINES[2]!]],
    ]);
    expect(ended.status).toBe("completed");
    expect(ended.result!.passed, JSON.stringify(ended.result)).toBe(true);
    const types = ended.result!.checks.map((c) => c.type);
    expect(types).toEqual(
      expect.arrayContaining([
        "voice_valid",
        "first_audio_within",
        "no_long_silence",
        "must_match",
        "all_answered",
      ]),
    );

    // The bot heard exactly what the persona said, through the same STT server.
    const call = voiceBot.calls[0]!;
    expect(call.heard).toEqual(LINES);
    expect(voiceBot.calls).toHaveLength(1);

    // Timings: each answer's first audio came after the persona's speech ended, and is its latency.
    for (const [i, m] of messages.entries()) {
      const voice = m.metadata?.voice;
      expect(voice?.audio, `message ${i}`).toBe(true);
      expect(voice.endMs!).toBeGreaterThan(voice.startMs!);
      if (m.senderType === "agent" && i > 0) {
        const persona = messages[i - 1].metadata.voice!;
        expect(voice!.firstAudioMs).toBe(voice.startMs! - persona.endMs!);
        // The bot waits 200 ms, then speaks: well under a second on loopback.
        expect(voice.firstAudioMs!).toBeGreaterThanOrEqual(150);
        expect(voice.firstAudioMs!).toBeLessThan(1500);
        expect(m.latencyMs).toBe(voice!.firstAudioMs);
      }
    }
    expect(messages[0].metadata.voice!.firstAudioMs).toBeUndefined();

    // Each turn's audio is stored and downloadable: a WAV as long as the speech.
    const audio = await ctx.app.inject({
      method: "GET",
      url: `/api/sessions/${created.id}/messages/${messages[2]!.id}/audio`,
      headers: user.headers,
    });
    expect(audio.statusCode).toBe(200);
    expect(audio.headers["content-type"]).toBe("audio/wav");
    const { pcm, sampleRate } = pcmFromWav(audio.rawPayload);
    expect(sampleRate).toBe(8000);
    const voice = messages[2].metadata.voice!;
    expect(Math.abs(pcm.length / 8 - (voice.endMs! - voice.startMs!))).toBeLessThan(60);
    const stored = await ctx.db.db.select().from(messageAudio).where(eq(messageAudio.sessionId, created.id));
    expect(stored).toHaveLength(7);
    // Mimic's STT calls carried the configured model and key.
    expect(
      stt.requests.some((r) => r.model === "whisper-test" && r.authorization === "Bearer stt-key-0001"),
    ).toBe(true);
  }, 90_000);
});

describe("the Media Streams protocol, as Twilio speaks it", () => {
  it("sends connected and start with the call's fields, paces media at 20 ms, and stops at the end", async () => {
    const voiceBot = await bot();
    const persona = await createPersona(ctx.app, user, { goal: null, script: [LINES[0]] });
    const agent = await voiceAgent(voiceBot.url, {
      api_key: "voice-bot-key-0002",
      custom_parameters: { tenant: "shopco" },
    });
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 2, messageInterval: 0.2, replyTimeout: 8 },
    });
    await waitForVerdict(created.id);
    const call = voiceBot.calls[0]!;
    expect(call.headers.authorization).toBe("Bearer voice-bot-key-0002");
    expect(call.headers["x-mimic-session-id"]).toBe(created.id);
    // Pipecat's runner reads exactly the first two messages: connected, then start.
    const [first, second] = framesOf(call);
    expect(first).toEqual({ event: "connected", protocol: "Call", version: "1.0.0" });
    expect(second).toMatchObject({
      event: "start",
      sequenceNumber: "1",
      start: {
        tracks: ["inbound"],
        customParameters: { tenant: "shopco" },
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
      },
    });
    const start = second!.start as Record<string, string>;
    expect(start.streamSid).toMatch(/^MZ[0-9a-f]{32}$/);
    expect(start.callSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(start.accountSid).toMatch(/^AC[0-9a-f]{32}$/);
    expect(second!.streamSid).toBe(start.streamSid);

    // Media: sequence numbers and chunks count up, timestamps advance 20 ms a frame, each frame 160 μ-law bytes.
    const media = framesOf(call).filter((m) => m.event === "media");
    expect(media.length).toBeGreaterThan(50);
    for (const [i, m] of media.entries()) {
      expect(m.streamSid).toBe(start.streamSid);
      expect(m.media!.track).toBe("inbound");
      expect(m.media!.chunk).toBe(String(i + 1));
      expect(m.media!.timestamp).toBe(String(i * 20));
      expect(Buffer.from(m.media!.payload, "base64")).toHaveLength(160);
    }
    const sequence = framesOf(call)
      .filter((m) => m.sequenceNumber !== undefined)
      .map((m) => Number(m.sequenceNumber));
    expect(sequence).toEqual(sequence.map((_, i) => i + 1));
    // Real time: frames arrive 20 ms apart on average, and never in a burst far ahead of the clock.
    const arrivals = call.mediaArrivals;
    const span = arrivals.at(-1)! - arrivals[0]!;
    expect(span / (arrivals.length - 1)).toBeGreaterThan(18);
    expect(span / (arrivals.length - 1)).toBeLessThan(22);
    for (const [i, at] of arrivals.entries()) expect(at - arrivals[0]!).toBeGreaterThan(i * 20 - 100);

    // The session ended: stop, naming the call, then the connection closed.
    const stop = framesOf(call).find((m) => m.event === "stop");
    expect(stop).toMatchObject({
      streamSid: start.streamSid,
      stop: { accountSid: start.accountSid, callSid: start.callSid },
    });
    expect(call.stopped).toBe(true);
    await expect.poll(() => call.closed).toBe(true);
  }, 60_000);
});

describe("what a voice bot does on the call", () => {
  it("gets its marks back once the audio before them has played", async () => {
    const voiceBot = await bot({ mark: true });
    const persona = await createPersona(ctx.app, user, { goal: null, script: [LINES[0]] });
    const agent = await voiceAgent(voiceBot.url);
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 2, messageInterval: 0.2, replyTimeout: 8 },
    });
    await waitForVerdict(created.id);
    const call = voiceBot.calls[0]!;
    const said = call.said[0]!;
    expect(said.text).toBe(REPLIES[LINES[0]!]);
    // The bot sent its whole reply at once, then the mark: Mimic plays it in real time and only then answers.
    const audio = await ctx.app.inject({
      method: "GET",
      url: `/api/sessions/${created.id}/messages/${(await transcript(created.id))[1]!.id}/audio`,
      headers: user.headers,
    });
    const spoken = pcmFromWav(audio.rawPayload).pcm.length / 8;
    expect(call.marksReturned.map((m) => m.name)).toEqual(["reply-1"]);
    expect(call.marksReturned[0]!.at - said.at).toBeGreaterThanOrEqual(spoken - 20);
    expect(call.marksReturned[0]!.at - said.at).toBeLessThan(spoken + 1500);
    const echoed = framesOf(call).find((m) => m.event === "mark")!;
    expect(echoed).toMatchObject({ streamSid: call.streamSid, mark: { name: "reply-1" } });
    expect(Number(echoed.sequenceNumber)).toBeGreaterThan(1);
  }, 60_000);

  it("barges in after interruptAfterMs: a bot that clears is cut off, one that keeps talking is caught", async () => {
    const polite = await bot({ mark: true });
    const rude = await bot({ onBargeIn: "ignore" });
    const persona = await createPersona(ctx.app, user, {
      goal: null,
      script: ["Tell me your delivery policy."],
      config: { voice: { interruptAfterMs: 1000 } },
    });
    await stt.learn("Tell me your delivery policy.");
    const run = async (voiceBot: VoiceBot) => {
      const agent = await voiceAgent(voiceBot.url);
      const created = await startSession(ctx.app, user, {
        agentId: agent.id,
        personaId: persona.id,
        config: { maxMessages: 2, messageInterval: 0.2, replyTimeout: 20 },
      });
      await waitForVerdict(created.id);
      return (await transcript(created.id)).filter((m) => m.senderType === "agent")[0]!;
    };
    const [cut, talked] = await Promise.all([run(polite), run(rude)]);

    // The polite bot heard the interjection and cleared its buffered audio: the utterance stops short.
    const bargeIn = cut.metadata.voice.bargeIn!;
    expect(bargeIn.afterMs).toBeGreaterThanOrEqual(1000);
    expect(bargeIn.afterMs).toBeLessThan(1200);
    expect(bargeIn.clearedAfterMs).not.toBeNull();
    expect(bargeIn.clearedAfterMs!).toBeLessThan(1500);
    const cutVoice = cut.metadata.voice!;
    expect(cutVoice.endMs! - cutVoice.startMs!).toBeLessThan(bargeIn.afterMs + bargeIn.clearedAfterMs! + 100);
    expect(polite.calls[0].said[0]!.cleared).toBe(true);
    // Twilio returns the marks of cleared audio at once.
    expect(polite.calls[0]!.marksReturned.map((m) => m.name)).toContain("reply-1");
    // The transcription is of what was heard: the first words of the long reply, not all of it.
    expect(LONG_REPLY.startsWith(cut.content.replace(/[.…]+$/, ""))).toBe(true);
    expect(cut.content.length).toBeLessThan(LONG_REPLY.length);

    // The rude bot never cleared: its whole reply played, and the barge-in records no clear.
    expect(talked.metadata.voice!.bargeIn).toMatchObject({ clearedAfterMs: null });
    expect(talked.content).toBe(LONG_REPLY);
  }, 60_000);

  it("presses DTMF keys, stays silent when told to, and measures the dead air", async () => {
    const voiceBot = await bot();
    const persona = await createPersona(ctx.app, user, {
      goal: null,
      script: [`${DIGITS_LINE} [dtmf 4521#]`, "[silence]"],
    });
    const agent = await voiceAgent(voiceBot.url);
    const created = await startSession(ctx.app, user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 4, messageInterval: 0.2, replyTimeout: 2, duration: 60 },
      checks: [{ type: "no_long_silence", ms: 1500 }],
    });
    const ended = await waitForVerdict(created.id);
    const call = voiceBot.calls[0]!;
    expect(call.dtmf).toBe("4521#");
    const dtmf = framesOf(call).filter((m) => m.event === "dtmf") as unknown as {
      streamSid: string;
      dtmf: { track: string; digit: string };
    }[];
    expect(dtmf.map((m) => m.dtmf)).toEqual([..."4521#"].map((digit) => ({ track: "inbound_track", digit })));
    expect(dtmf.every((m) => m.streamSid === call.streamSid)).toBe(true);
    expect(call.heard).toEqual([DIGITS_LINE]);
    const messages = await transcript(created.id);
    const persona1 = messages.find((m) => m.senderType === "persona")!;
    expect(persona1.metadata!.voice).toMatchObject({ dtmf: "4521#", audio: true });
    const silent = messages.filter((m) => m.senderType === "persona")[1]!;
    expect(silent.metadata!.voice).toMatchObject({ silent: true, audio: false });
    expect(silent.metadata.voice!.startMs).toBe(silent.metadata.voice!.endMs);
    // The bot answered the digits, then nobody spoke after the silent turn until the reply timeout: dead air the
    // check catches.
    expect(messages.map((m) => m.senderType)).toEqual(["persona", "agent", "persona", "system", "persona"]);
    const check = ended.result.checks.find((c) => c.type === "no_long_silence")!;
    expect(check.status, check.detail).toBe("failed");
  }, 60_000);
});

describe("voice bots that break the protocol", () => {
  it("records each kind of trouble as a finding and fails voice_valid", async () => {
    const cases = {
      wrong_format: await bot({ format: "pcm16" }),
      wrong_stream: await bot({ streamSid: "wrong" }),
      bad_frame: await bot({ badFrames: true }),
    };
    const persona = await createPersona(ctx.app, user, { goal: null, script: [LINES[0]] });
    const results = await Promise.all(
      Object.entries(cases).map(async ([kind, voiceBot]) => {
        const agent = await voiceAgent(voiceBot.url);
        const created = await startSession(ctx.app, user, {
          agentId: agent.id,
          personaId: persona.id,
          config: { maxMessages: 2, messageInterval: 0.2, replyTimeout: 3 },
        });
        const ended = await waitForVerdict(created.id);
        return { kind, ended, messages: await transcript(created.id) };
      }),
    );
    for (const { kind, ended, messages } of results) {
      const findings = messages.filter((m) => m.metadata?.voice?.finding);
      expect(
        findings.map((m) => m.metadata.voice!.finding),
        kind,
      ).toContain(kind);
      expect(findings.every((m) => m.senderType === "system")).toBe(true);
      const check = ended.result.checks.find((c) => c.type === "voice_valid")!;
      expect(check.status, `${kind}: ${check.detail}`).toBe("failed");
      expect(check.detail).toContain(kind);
      expect(ended.result!.passed).toBe(false);
    }
    // A bot whose frames name another stream is not heard at all.
    const wrongStream = results.find((r) => r.kind === "wrong_stream")!;
    expect(wrongStream.messages.filter((m) => m.senderType === "agent")).toEqual([]);
  }, 60_000);
});
