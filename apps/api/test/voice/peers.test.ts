// The loopback peers voice tests talk to: the STT server (over real multipart HTTP, through our transcriber)
// and the Twilio Media Streams voice bot (driven by a small client playing Twilio's side).
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  durationMs,
  FRAME_SAMPLES,
  looksLikeLinearPcm,
  MULAW_SILENCE,
  mulawDecode,
  mulawEncode,
  resample,
  wavFromPcm,
} from "../../src/channels/voice/audio.js";
import { createOpenAITranscriber } from "../../src/channels/voice/stt.js";
import { createFliteSynthesizer, type FliteSynthesizer } from "../../src/channels/voice/tts.js";
import { waitFor } from "../support/processes.js";
import { type SttServer, startSttServer } from "../support/stt-server.js";
import { startVoiceBot, type TwilioFrame, voiceBotPhrases } from "../support/voice-bot.js";

const ASK = "Hello, I would like to change my booking please.";
const REFUND = "I would like a refund please.";
const GREETING = "Thank you for calling the booking line. How can I help you today?";
const SHORT = "Yes.";
const UNKNOWN = "The weather is lovely in Lisbon this time of year.";

let synth: FliteSynthesizer;
let stt: SttServer;
const mulawOf = async (text: string) => mulawEncode(await synth.synthesize(text));

beforeAll(async () => {
  synth = createFliteSynthesizer();
  const phrases = [ASK, REFUND, SHORT, ...voiceBotPhrases({ greeting: GREETING }, [ASK, REFUND])];
  stt = await startSttServer({ phrases, synthesizer: synth });
});
afterAll(async () => {
  await stt.close();
  await synth.close();
});

/** μ-law audio as a call carries it: 20 ms frames, `leadMs` of silence first, the last frame padded. */
function framed(mulaw: Uint8Array, leadMs: number, tailMs: number): Buffer[] {
  const lead = Buffer.alloc((leadMs / 1000) * 8000, MULAW_SILENCE);
  const tail = Buffer.alloc((tailMs / 1000) * 8000, MULAW_SILENCE);
  const all = Buffer.concat([lead, mulaw, tail]);
  const frames: Buffer[] = [];
  for (let i = 0; i < all.length; i += FRAME_SAMPLES) {
    const frame = Buffer.alloc(FRAME_SAMPLES, MULAW_SILENCE);
    all.copy(frame, 0, i, i + FRAME_SAMPLES);
    frames.push(frame);
  }
  return frames;
}

const wavOfFrames = (frames: Uint8Array[]) => wavFromPcm(mulawDecode(Buffer.concat(frames)));

describe("STT server", () => {
  const transcriber = () =>
    createOpenAITranscriber({
      baseURL: stt.url,
      apiKey: "sk-test-123456",
      model: "whisper-1",
      timeoutMs: 5000,
    });

  it("recognises a known phrase with any silence around it, cut into frames at any offset", async () => {
    const mulaw = await mulawOf(ASK);
    for (const leadMs of [0, 20, 90, 1000]) {
      const wav = wavOfFrames(framed(mulaw, leadMs, 700));
      expect(await transcriber().transcribe(wav), `lead ${leadMs} ms`).toBe(ASK);
      expect(stt.requests.at(-1)).toEqual({
        model: "whisper-1",
        authorization: "Bearer sk-test-123456",
        bytes: wav.length,
      });
    }
  });

  it("recognises a phrase whose soft onset was dropped, and 16 kHz uploads", async () => {
    const speech = mulawDecode(await mulawOf(REFUND));
    // A speech detector without pre-roll starts the turn at any frame of the quiet onset, or a little later.
    for (let cutMs = 0; cutMs <= 320; cutMs += 20) {
      const wav = wavFromPcm(speech.subarray(cutMs * 8));
      expect(await transcriber().transcribe(wav), `cut ${cutMs} ms`).toBe(REFUND);
    }
    expect(await transcriber().transcribe(wavFromPcm(resample(speech, 8000, 16000), 16000))).toBe(REFUND);
  });

  it("answers the words heard so far when the speech was cut short", async () => {
    const speech = mulawDecode(await mulawOf(ASK));
    const words = ASK.split(" ");
    const half = await transcriber().transcribe(wavFromPcm(speech.subarray(0, speech.length / 2)));
    const halfWords = half.split(" ");
    expect(ASK.startsWith(half)).toBe(true);
    expect(halfWords.length).toBeGreaterThanOrEqual(words.length / 2 - 2);
    expect(halfWords.length).toBeLessThanOrEqual(words.length / 2 + 1);
    // A little more than the soft onset: at least the first word.
    expect(await transcriber().transcribe(wavFromPcm(speech.subarray(0, 3200)))).toBe("Hello");
  });

  it("answers nothing for unknown speech and for silence", async () => {
    expect(await transcriber().transcribe(wavFromPcm(mulawDecode(await mulawOf(UNKNOWN))))).toBe("");
    expect(await transcriber().transcribe(wavFromPcm(new Int16Array(16000)))).toBe("");
    expect(await transcriber().transcribe(wavFromPcm(await synth.synthesize(ASK, "slt")))).toBe("");
  });

  it("learns new phrases", async () => {
    const wav = wavFromPcm(mulawDecode(await mulawOf(UNKNOWN)));
    await stt.learn(UNKNOWN);
    expect(await transcriber().transcribe(wav)).toBe(UNKNOWN);
  });

  it("answers 400 in OpenAI's error shape for a missing or non-WAV file", async () => {
    await expect(transcriber().transcribe(Buffer.from("ID3 not a wav"))).rejects.toThrow(
      /^STT endpoint failed: HTTP 400 \(Invalid file format/,
    );
    const form = new FormData();
    form.append("model", "whisper-1");
    const res = await fetch(`${stt.url}/audio/transcriptions`, { method: "POST", body: form });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: {
        message: "Missing required parameter: 'file'.",
        type: "invalid_request_error",
        param: "file",
        code: null,
      },
    });
  });

  it("reports an unreachable endpoint without the API key", async () => {
    const offline = createOpenAITranscriber({
      baseURL: "http://127.0.0.1:9/v1",
      apiKey: "sk-secret-abcdef",
      model: "whisper-1",
      timeoutMs: 2000,
      maxRetries: 0,
    });
    const error = await offline.transcribe(wavFromPcm(new Int16Array(800))).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/^STT endpoint failed: unreachable/);
    expect((error as Error).message).not.toContain("abcdef");
  });
});

/** Twilio's side of a Media Streams connection, as Mimic plays it. */
async function connectAsTwilio(url: string, streamSid = "MZ1234567890abcdef1234567890abcdef") {
  const ws = new WebSocket(url, { headers: { authorization: "Bearer bot-secret" } });
  const received: { at: number; raw: string; frame: TwilioFrame | null }[] = [];
  ws.on("message", (data) => {
    const raw = data.toString();
    let frame: TwilioFrame | null = null;
    try {
      frame = JSON.parse(raw) as TwilioFrame;
    } catch {}
    received.push({ at: performance.now(), raw, frame });
  });
  await once(ws, "open");
  let sequence = 1;
  const send = (frame: Record<string, unknown>) =>
    ws.send(JSON.stringify({ ...frame, sequenceNumber: String(sequence++) }));
  send({ event: "connected", protocol: "Call", version: "1.0.0" });
  send({
    event: "start",
    streamSid,
    start: {
      accountSid: "AC00000000000000000000000000000000",
      callSid: "CA00000000000000000000000000000000",
      streamSid,
      tracks: ["inbound"],
      customParameters: {},
      mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
    },
  });
  const frames = () => received.flatMap((r) => (r.frame ? [r.frame] : []));
  return {
    ws,
    streamSid,
    received,
    frames,
    send,
    /** Sends persona audio as media messages of `bytes` μ-law bytes each (Twilio: 160). */
    speak(mulaw: Uint8Array, bytes = FRAME_SAMPLES) {
      for (let i = 0; i < mulaw.length; i += bytes) {
        const payload = Buffer.from(mulaw.subarray(i, i + bytes)).toString("base64");
        send({ event: "media", streamSid, media: { track: "inbound", payload } });
      }
    },
    /** The bot's audio between two of its marks (or from the start). */
    audioBetween(fromMark: string | null, toMark: string): Int16Array {
      const all = frames();
      const start = fromMark ? all.findIndex((f) => markName(f) === fromMark) : 0;
      const end = all.findIndex((f) => markName(f) === toMark);
      const payloads = all
        .slice(start, end)
        .filter((f) => f.event === "media")
        .map((f) => Buffer.from((f.media as { payload: string }).payload, "base64"));
      return mulawDecode(Buffer.concat(payloads));
    },
    hasMark: (name: string) => frames().some((f) => markName(f) === name),
  };
}

const markName = (frame: TwilioFrame) =>
  frame.event === "mark" ? (frame.mark as { name?: string }).name : undefined;

const silence = (ms: number) => Buffer.alloc((ms / 1000) * 8000, MULAW_SILENCE);

describe("voice bot", () => {
  it("greets, hears the persona through STT, answers with audio and marks, and records the call", async () => {
    const bot = await startVoiceBot({
      stt: stt.url,
      greeting: GREETING,
      mark: true,
      onBargeIn: "ignore",
      synthesizer: synth,
    });
    try {
      const twilio = await connectAsTwilio(bot.url);
      await waitFor(() => twilio.hasMark("reply-1"), 5000);
      expect(stt.recognise(twilio.audioBetween(null, "reply-1"))).toBe(GREETING);
      twilio.send({ event: "mark", streamSid: twilio.streamSid, mark: { name: "reply-1" } });

      const persona = Buffer.concat([silence(200), await mulawOf(REFUND), silence(600)]);
      twilio.speak(persona);
      await waitFor(() => twilio.hasMark("reply-2"), 5000);
      expect(stt.recognise(twilio.audioBetween("reply-1", "reply-2"))).toBe(`You said: ${REFUND}`);
      twilio.send({
        event: "dtmf",
        streamSid: twilio.streamSid,
        dtmf: { track: "inbound_track", digit: "4" },
      });
      twilio.send({
        event: "dtmf",
        streamSid: twilio.streamSid,
        dtmf: { track: "inbound_track", digit: "2" },
      });
      twilio.send({ event: "stop", streamSid: twilio.streamSid, stop: {} });
      twilio.ws.close();

      await waitFor(() => bot.calls[0]?.closed === true, 2000);
      const call = bot.calls[0]!;
      expect(call.url).toBe("/media");
      expect(call.headers.authorization).toBe("Bearer bot-secret");
      expect(call.connected).toMatchObject({ event: "connected", protocol: "Call" });
      expect(call.start).toMatchObject({ event: "start", streamSid: twilio.streamSid });
      expect(call.streamSid).toBe(twilio.streamSid);
      const mediaSent = Math.ceil(persona.length / FRAME_SAMPLES);
      expect(call.mediaFrames).toBe(mediaSent);
      expect(call.mediaArrivals).toHaveLength(mediaSent);
      expect(call.events.map((e) => e.message?.event)).toEqual([
        "connected",
        "start",
        "mark",
        ...Array(mediaSent).fill("media"),
        "dtmf",
        "dtmf",
        "stop",
      ]);
      expect(call.dtmf).toBe("42");
      expect(call.marksReturned.map((m) => m.name)).toEqual(["reply-1"]);
      expect(call.stopped).toBe(true);
      expect(call.heard).toEqual([REFUND]);
      expect(call.said.map((s) => s.text)).toEqual([GREETING, `You said: ${REFUND}`]);
      expect(call.said.some((s) => s.cleared)).toBe(false);
      expect(call.problems).toEqual([]);
      // The bot speaks on the call's stream, never clears when told to ignore barge-in, and waits its
      // reply delay after hearing the end of the utterance.
      const fromBot = twilio.frames();
      expect(fromBot.every((f) => f.streamSid === twilio.streamSid)).toBe(true);
      expect(fromBot.some((f) => f.event === "clear")).toBe(false);
      const replyAt = twilio.received.find((r) => markName(r.frame ?? {}) === "reply-1")!.at;
      expect(call.said[1]!.at - replyAt).toBeGreaterThanOrEqual(200);
    } finally {
      await bot.close();
    }
  });

  it("clears its own speech when the persona barges in, hearing payloads of any size", async () => {
    const bot = await startVoiceBot({ stt: stt.url, greeting: GREETING, synthesizer: synth });
    try {
      const twilio = await connectAsTwilio(bot.url);
      await waitFor(() => twilio.frames().some((f) => f.event === "media"), 5000);
      // The greeting lasts seconds; the persona talks over it at once.
      twilio.speak(Buffer.concat([await mulawOf(ASK), silence(500)]), 97);
      await waitFor(() => twilio.frames().some((f) => f.event === "clear"), 5000);
      expect(twilio.frames().find((f) => f.event === "clear")).toEqual({
        event: "clear",
        streamSid: twilio.streamSid,
      });
      await waitFor(() => bot.calls[0]!.said.length === 2, 5000);
      const call = bot.calls[0]!;
      expect(call.said[0]).toMatchObject({ text: GREETING, cleared: true });
      expect(call.heard).toEqual([ASK]);
      expect(call.said[1]!.text).toBe(`You said: ${ASK}`);
    } finally {
      await bot.close();
    }
  });

  it("paces its speech in real time when asked", async () => {
    const bot = await startVoiceBot({
      stt: stt.url,
      greeting: SHORT,
      realtime: true,
      chunkMs: 100,
      synthesizer: synth,
    });
    try {
      const twilio = await connectAsTwilio(bot.url);
      const samples = (await synth.synthesize(SHORT)).length;
      const chunks = Math.ceil(samples / 800);
      await waitFor(() => twilio.received.filter((r) => r.frame?.event === "media").length === chunks, 5000);
      const media = twilio.received.filter((r) => r.frame?.event === "media");
      const sizes = media.map(
        (r) => Buffer.from((r.frame!.media as { payload: string }).payload, "base64").length,
      );
      expect(sizes.slice(0, -1).every((n) => n === 800)).toBe(true);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(samples);
      expect(media.at(-1)!.at - media[0]!.at).toBeGreaterThanOrEqual((chunks - 1) * 100 * 0.9);
      expect(durationMs(samples)).toBeGreaterThan(300);
    } finally {
      await bot.close();
    }
  });

  it("can misbehave: linear PCM payloads, a foreign streamSid, broken frames", async () => {
    const bot = await startVoiceBot({
      stt: stt.url,
      greeting: SHORT,
      format: "pcm16",
      streamSid: "wrong",
      badFrames: true,
      synthesizer: synth,
    });
    try {
      const twilio = await connectAsTwilio(bot.url);
      const expectedBytes = (await synth.synthesize(SHORT)).length * 2;
      const payloads = () =>
        twilio
          .frames()
          .filter((f) => f.event === "media")
          .map((f) => (f.media as { payload: string }).payload);
      const received = () =>
        payloads()
          .slice(1)
          .reduce((n, p) => n + Buffer.from(p, "base64").length, 0);
      await waitFor(() => received() >= expectedBytes, 5000);
      expect(twilio.received.some((r) => r.frame === null && r.raw === "this is not JSON")).toBe(true);
      const media = twilio.frames().filter((f) => f.event === "media");
      expect(media.every((f) => f.streamSid !== twilio.streamSid)).toBe(true);
      const [broken, ...speech] = payloads();
      expect(broken).toBe("%%% not base64 %%%");
      const bytes = Buffer.concat(speech.map((p) => Buffer.from(p, "base64")));
      expect(bytes.length).toBe(expectedBytes);
      expect(looksLikeLinearPcm(bytes)).toBe(true);
    } finally {
      await bot.close();
    }
  });
});
