// Voice sessions end to end: the real engine calls a Twilio Media Streams bot on loopback that speaks with flite
// and listens through a local OpenAI-compatible STT server; Mimic transcribes the bot through the same server.
import { messageAudio } from "@mimic/db";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { pcmFromWav } from "../../src/channels/voice/audio.js";
import { createPersona, startSession } from "../engine/fixtures.js";
import { GREETING, LINES, REPLIES, voiceHarness } from "./fixtures.js";

const { h, bot, voiceAgent, transcript, waitForVerdict, framesOf } = voiceHarness();

describe("a voice session against a Twilio Media Streams bot", () => {
  it("greets, hears each persona line, answers, and passes its verdict", async () => {
    const voiceBot = await bot({ greeting: GREETING, mark: true });
    const persona = await createPersona(h.ctx.app, h.user, { goal: null, script: LINES });
    const agent = await voiceAgent(voiceBot.url, {
      api_key: "voice-bot-key-0001",
      custom_parameters: { tenant: "shopco", locale: "en-US" },
    });
    const created = await startSession(h.ctx.app, h.user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 7, messageInterval: 0.2, replyTimeout: 8, duration: 120 },
      checks: [
        { type: "first_audio_within", ms: 4000 },
        { type: "no_long_silence", ms: 6000 },
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
        // The bot hears 400 ms of quiet, waits 200 ms, then speaks: about 650 ms here (room left for a busy machine).
        expect(voice.firstAudioMs!).toBeGreaterThanOrEqual(150);
        expect(voice.firstAudioMs!).toBeLessThan(3000);
        expect(m.latencyMs).toBe(voice!.firstAudioMs);
      }
    }
    expect(messages[0].metadata.voice!.firstAudioMs).toBeUndefined();

    // Each turn's audio is stored and downloadable: a WAV as long as the speech.
    const audio = await h.ctx.app.inject({
      method: "GET",
      url: `/api/sessions/${created.id}/messages/${messages[2]!.id}/audio`,
      headers: h.user.headers,
    });
    expect(audio.statusCode).toBe(200);
    expect(audio.headers["content-type"]).toBe("audio/wav");
    const { pcm, sampleRate } = pcmFromWav(audio.rawPayload);
    expect(sampleRate).toBe(8000);
    const voice = messages[2].metadata.voice!;
    expect(Math.abs(pcm.length / 8 - (voice.endMs! - voice.startMs!))).toBeLessThan(60);
    const stored = await h.ctx.db.db
      .select()
      .from(messageAudio)
      .where(eq(messageAudio.sessionId, created.id));
    expect(stored).toHaveLength(7);
    // Mimic's STT calls carried the configured model and key.
    expect(
      h.stt.requests.some((r) => r.model === "whisper-test" && r.authorization === "Bearer stt-key-0001"),
    ).toBe(true);

    // The markdown export reads like the call: when each turn was spoken, and how soon the bot answered.
    const exported = await h.ctx.app.inject({
      method: "GET",
      url: `/api/sessions/${created.id}/export?format=markdown`,
      headers: h.user.headers,
    });
    const headings = exported.body.split("\n").filter((line) => line.startsWith("### "));
    expect(headings).toHaveLength(7);
    const answer = messages[2]?.metadata?.voice;
    expect(headings[2]).toContain(`first audio ${answer?.firstAudioMs} ms`);
    expect(headings[2]).toMatch(/🔊 \d+\.\d s–\d+\.\d s/);
    expect(headings[0]).not.toContain("first audio");
  }, 90_000);
});

describe("the Media Streams protocol, as Twilio speaks it", () => {
  it("sends connected and start with the call's fields, paces media at 20 ms, and stops at the end", async () => {
    const voiceBot = await bot();
    const persona = await createPersona(h.ctx.app, h.user, { goal: null, script: [LINES[0]] });
    const agent = await voiceAgent(voiceBot.url, {
      api_key: "voice-bot-key-0002",
      custom_parameters: { tenant: "shopco" },
    });
    const created = await startSession(h.ctx.app, h.user, {
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
    // Never ahead of the clock: frame i leaves 20·i ms after `start` at the earliest (a busy machine only delays).
    const startedAt = call.events[1]!.at;
    for (const [i, at] of arrivals.entries()) expect(at - startedAt).toBeGreaterThanOrEqual(i * 20 - 5);

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
