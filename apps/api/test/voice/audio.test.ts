// The audio toolkit for voice calls: μ-law, WAV, resampling, the wrong-format check, VAD and speech synthesis.
import { execFile } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import wavefile from "wavefile";
import {
  durationMs,
  FRAME_SAMPLES,
  looksLikeLinearPcm,
  MULAW_SILENCE,
  mulawDecode,
  mulawEncode,
  pcmFromWav,
  resample,
  SAMPLE_RATE,
  wavFromPcm,
} from "../../src/channels/voice/audio.js";
import {
  createFliteSynthesizer,
  createOpenAISpeech,
  FLITE_VOICES,
  type FliteSynthesizer,
} from "../../src/channels/voice/tts.js";
import { createVad } from "../../src/channels/voice/vad.js";

const run = promisify(execFile);

const LINE = "Hello, I would like to change my booking please.";

function tone(hz: number, rate: number, ms: number, amplitude = 10_000): Int16Array {
  const n = Math.round((rate * ms) / 1000);
  return Int16Array.from({ length: n }, (_, i) =>
    Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)),
  );
}

function rms(pcm: Int16Array): number {
  let sum = 0;
  for (const x of pcm) sum += x * x;
  return Math.sqrt(sum / pcm.length);
}

const asBytes = (pcm: Int16Array) => new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(probe: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

let synth: FliteSynthesizer;
beforeAll(() => {
  synth = createFliteSynthesizer();
});
afterAll(() => synth.close());

describe("μ-law", () => {
  it("encodes zero as the silence code and decodes it back to zero", () => {
    expect([...mulawEncode(new Int16Array(3))]).toEqual([MULAW_SILENCE, MULAW_SILENCE, MULAW_SILENCE]);
    expect([...mulawDecode(Uint8Array.of(MULAW_SILENCE))]).toEqual([0]);
  });

  it("round-trips every code (0x7F is negative zero and comes back as 0xFF)", () => {
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const back = mulawEncode(mulawDecode(codes));
    expect([...codes].filter((c) => back[c] !== c)).toEqual([0x7f]);
    expect(back[0x7f]).toBe(0xff);
  });

  it("keeps speech within μ-law's quantization error", () => {
    const pcm = tone(440, SAMPLE_RATE, 200);
    const back = mulawDecode(mulawEncode(pcm));
    expect(back).toHaveLength(pcm.length);
    for (let i = 0; i < pcm.length; i++) {
      expect(Math.abs(back[i]! - pcm[i]!)).toBeLessThanOrEqual(Math.abs(pcm[i]!) / 16 + 8);
    }
  });
});

describe("WAV", () => {
  it("writes a 44-byte 16-bit mono header and reads the samples back exactly", () => {
    const pcm = Int16Array.of(0, 1, -1, 32767, -32768, 1234);
    const wav = wavFromPcm(pcm, 16000);
    expect(wav).toHaveLength(44 + 12);
    expect(wav.toString("ascii", 0, 4)).toBe("RIFF");
    expect(wav.toString("ascii", 8, 12)).toBe("WAVE");
    expect(wav.readUInt16LE(20)).toBe(1);
    expect(wav.readUInt16LE(22)).toBe(1);
    expect(wav.readUInt32LE(24)).toBe(16000);
    expect(wav.readUInt16LE(34)).toBe(16);
    expect(wav.readUInt32LE(40)).toBe(12);
    const back = pcmFromWav(wav);
    expect(back.sampleRate).toBe(16000);
    expect([...back.pcm]).toEqual([...pcm]);
  });

  it("reads 16 kHz 32-bit float files", () => {
    const file = new wavefile.WaveFile();
    file.fromScratch(1, 16000, "32f", [0, 0.5, -0.5, 1, -1]);
    const { pcm, sampleRate } = pcmFromWav(file.toBuffer());
    expect(sampleRate).toBe(16000);
    expect([...pcm]).toEqual([0, 16384, -16384, 32767, -32768]);
  });

  it("mixes stereo down to mono", () => {
    const file = new wavefile.WaveFile();
    file.fromScratch(2, 8000, "16", [
      [1000, -2000, 300],
      [3000, 2000, -300],
    ]);
    expect([...pcmFromWav(file.toBuffer()).pcm]).toEqual([2000, 0, 0]);
  });

  it("reads 8-bit, 24-bit, 32-bit and μ-law files", () => {
    const samples = [0, 12_000, -12_000, 0];
    const make = (bits: string, values: number[]) => {
      const file = new wavefile.WaveFile();
      file.fromScratch(1, 8000, bits, values);
      return file;
    };
    expect([...pcmFromWav(make("8", [128, 224, 32, 128]).toBuffer()).pcm]).toEqual([
      0,
      96 * 256,
      -96 * 256,
      0,
    ]);
    expect([...pcmFromWav(make("24", [0, 12_000 * 256, -12_000 * 256, 0]).toBuffer()).pcm]).toEqual(samples);
    expect([...pcmFromWav(make("32", [0, 12_000 * 65536, -12_000 * 65536, 0]).toBuffer()).pcm]).toEqual(
      samples,
    );
    const mulaw = make("16", samples);
    mulaw.toMuLaw();
    const decoded = pcmFromWav(mulaw.toBuffer()).pcm;
    expect([...decoded]).toEqual([...mulawDecode(mulawEncode(Int16Array.from(samples)))]);
  });

  it("reads a streamed WAV whose data size is unknown (0xFFFFFFFF) to the end", () => {
    const wav = wavFromPcm(Int16Array.of(5, 6, 7), 24000);
    wav.writeUInt32LE(0xffffffff, 4);
    wav.writeUInt32LE(0xffffffff, 40);
    expect([...pcmFromWav(wav).pcm]).toEqual([5, 6, 7]);
  });

  it("refuses input that is not a WAV file", () => {
    expect(() => pcmFromWav(Buffer.from("ID3 this is an mp3"))).toThrow(/not a WAV file/);
    expect(() => pcmFromWav(new Uint8Array(0))).toThrow(/not a WAV file/);
    const noData = wavFromPcm(Int16Array.of(1)).subarray(0, 36);
    expect(() => pcmFromWav(noData)).toThrow(/no data chunk/);
  });
});

describe("resample", () => {
  it("keeps a speech-band tone's level when going 16 → 8 → 24 kHz", () => {
    const wide = tone(1000, 16000, 500);
    const narrow = resample(wide, 16000, 8000);
    expect(narrow).toHaveLength(4000);
    expect(rms(narrow) / rms(wide)).toBeCloseTo(1, 1);
    const up = resample(narrow, 8000, 24000);
    expect(up).toHaveLength(12000);
    expect(rms(up) / rms(wide)).toBeCloseTo(1, 1);
  });

  it("filters out what 8 kHz cannot carry instead of aliasing it", () => {
    const high = tone(6000, 16000, 500);
    expect(rms(resample(high, 16000, 8000))).toBeLessThan(rms(high) * 0.01);
  });

  it("handles uneven ratios (44.1 kHz → 8 kHz)", () => {
    const out = resample(tone(500, 44100, 1000), 44100, 8000);
    expect(out).toHaveLength(8000);
    expect(rms(out.subarray(100, -100)) / 7071).toBeCloseTo(1, 1);
  });

  it("durationMs converts sample counts", () => {
    expect(durationMs(FRAME_SAMPLES)).toBe(20);
    expect(durationMs(24000, 24000)).toBe(1000);
  });
});

describe("looksLikeLinearPcm", () => {
  it("is false for μ-law speech of every voice and for μ-law silence", async () => {
    for (const voice of FLITE_VOICES) {
      expect(looksLikeLinearPcm(mulawEncode(await synth.synthesize(LINE, voice)))).toBe(false);
    }
    expect(looksLikeLinearPcm(new Uint8Array(1600).fill(MULAW_SILENCE))).toBe(false);
  });

  it("is true for speech sent as 16-bit little-endian PCM at 8, 16 and 24 kHz", async () => {
    const speech = await synth.synthesize(LINE);
    for (const rate of [8000, 16000, 24000]) {
      expect(looksLikeLinearPcm(asBytes(resample(speech, SAMPLE_RATE, rate)))).toBe(true);
    }
    expect(looksLikeLinearPcm(asBytes(new Int16Array(800)))).toBe(true); // PCM silence
  });

  it("judges single 20 ms μ-law frames of speech as μ-law", async () => {
    const mulaw = mulawEncode(await synth.synthesize(LINE, "slt"));
    for (let i = 0; i + FRAME_SAMPLES <= mulaw.length; i += FRAME_SAMPLES) {
      expect(looksLikeLinearPcm(mulaw.subarray(i, i + FRAME_SAMPLES))).toBe(false);
    }
  });
});

describe("VAD", () => {
  it("hears most frames of flite speech and none of silence", async () => {
    const vad = await createVad();
    const other = await createVad(3);
    try {
      const speech = mulawDecode(mulawEncode(await synth.synthesize(LINE)));
      let voiced = 0;
      let frames = 0;
      for (let i = 0; i + FRAME_SAMPLES <= speech.length; i += FRAME_SAMPLES, frames++) {
        if (vad.isSpeech(speech.subarray(i, i + FRAME_SAMPLES))) voiced++;
      }
      expect(voiced / frames).toBeGreaterThan(0.6);
      vad.reset();
      const silence = new Int16Array(FRAME_SAMPLES);
      for (let i = 0; i < 50; i++) {
        expect(vad.isSpeech(silence)).toBe(false);
        expect(other.isSpeech(silence)).toBe(false);
      }
      expect(() => vad.isSpeech(new Int16Array(100))).toThrow(/160 samples/);
    } finally {
      vad.free();
      other.free();
    }
  });
});

describe("flite synthesizer", () => {
  it("speaks every voice as 8 kHz PCM of a plausible duration", async () => {
    for (const voice of FLITE_VOICES) {
      const pcm = await synth.synthesize(LINE, voice);
      const ms = durationMs(pcm.length);
      expect(ms, voice).toBeGreaterThan(2000);
      expect(ms, voice).toBeLessThan(5000);
      expect(rms(pcm), voice).toBeGreaterThan(1000);
    }
  });

  it("returns silence for blank text and refuses unknown voices", async () => {
    const fresh = createFliteSynthesizer();
    try {
      expect(await fresh.synthesize("  \n ")).toHaveLength(0);
      expect(fresh.pid()).toBeUndefined(); // flite never started
      await expect(fresh.synthesize("Hi", "nobody")).rejects.toThrow(/unknown flite voice "nobody"/);
    } finally {
      await fresh.close();
    }
  });

  it("passes the text as one argument, never through a shell", async () => {
    const pcm = await synth.synthesize('"; rm -rf / ; echo $(whoami) `id` -o /out/x.wav');
    expect(durationMs(pcm.length)).toBeGreaterThan(1000);
  });

  it("serves repeated lines from its cache as independent copies", async () => {
    const first = await synth.synthesize("Cache me if you can.");
    first.fill(0);
    const second = await synth.synthesize("Cache me if you can.");
    expect(rms(second)).toBeGreaterThan(1000);
  });

  it("replaces a killed worker transparently", async () => {
    const fresh = createFliteSynthesizer();
    try {
      await fresh.synthesize("First line.");
      const before = fresh.pid()!;
      process.kill(before, "SIGKILL");
      await until(() => (processAlive(before) ? undefined : true), "the worker to die");
      const pcm = await fresh.synthesize("Second line.");
      expect(pcm.length).toBeGreaterThan(4000);
      expect(fresh.pid()).not.toBe(before);
    } finally {
      await fresh.close();
    }
  });

  it("retries a request whose worker dies under it once, then gives up with a clear error", async () => {
    const fresh = createFliteSynthesizer();
    try {
      const retried = fresh.synthesize("The worker will die while saying this.");
      const first = await until(() => fresh.pid(), "a worker");
      process.kill(first, "SIGKILL");
      expect((await retried).length).toBeGreaterThan(8000);
      expect(fresh.pid()).not.toBe(first);

      const idle = fresh.pid()!;
      process.kill(idle, "SIGKILL");
      await until(() => (fresh.pid() === undefined ? true : undefined), "the idle worker to die");
      // Every worker this request gets is killed.
      let settled = false;
      const doomed = fresh.synthesize("This request outlives two workers.");
      const done = () => {
        settled = true;
      };
      doomed.then(done, done);
      const killed: number[] = [];
      while (!settled) {
        const pid = fresh.pid();
        if (pid !== undefined && !killed.includes(pid)) {
          process.kill(pid, "SIGKILL");
          killed.push(pid);
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      expect(killed).toHaveLength(2);
      await expect(doomed).rejects.toThrow(/flite synthesis failed: the worker process died twice/);
    } finally {
      await fresh.close();
    }
  });

  it("lets a script that synthesizes and closes exit on its own (nothing else keeps the process up)", async () => {
    const script = `const { createFliteSynthesizer } = await import(${JSON.stringify(new URL("../../src/channels/voice/tts.ts", import.meta.url).href)});
      const flite = createFliteSynthesizer();
      const pcm = await flite.synthesize("Hi there.");
      await flite.close();
      console.log(pcm.length);`;
    const { stdout } = await run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      timeout: 30_000,
    });
    expect(Number(stdout.trim())).toBeGreaterThan(4000);
  });

  it("recycles its worker after `recycleAfter` syntheses and kills it on close", async () => {
    const fresh = createFliteSynthesizer({ recycleAfter: 2 });
    await fresh.synthesize("One.");
    const first = fresh.pid()!;
    await fresh.synthesize("Two.");
    expect(fresh.pid()).toBeUndefined();
    await fresh.synthesize("Three.");
    const second = fresh.pid()!;
    expect(second).not.toBe(first);
    await fresh.close();
    expect(processAlive(second)).toBe(false);
    await expect(fresh.synthesize("Four.")).rejects.toThrow(/closed/);
  });

  it("survives 30 slt syntheses in a row", async () => {
    for (let i = 0; i < 30; i++) {
      const pcm = await synth.synthesize(`This is sentence number ${i + 1}.`, "slt");
      expect(durationMs(pcm.length)).toBeGreaterThan(800);
    }
  });
});

describe("OpenAI-compatible speech", () => {
  let server: http.Server;
  let baseURL: string;
  const bodies: Record<string, unknown>[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
        bodies.push(body);
        if (req.headers.authorization !== "Bearer sk-good-key-123456") {
          res.writeHead(401, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              error: { message: `Incorrect API key provided: ${req.headers.authorization?.slice(7)}` },
            }),
          );
          return;
        }
        // Like OpenAI: 24 kHz, streamed (sizes unknown).
        const wav = wavFromPcm(tone(440, 24000, 600), 24000);
        wav.writeUInt32LE(0xffffffff, 4);
        wav.writeUInt32LE(0xffffffff, 40);
        res.writeHead(200, { "content-type": "audio/wav" });
        res.end(wav);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("asks for a WAV in the configured voice (a persona's flite voice does not apply) and returns 8 kHz PCM", async () => {
    const speech = createOpenAISpeech({
      baseURL,
      apiKey: "sk-good-key-123456",
      model: "tts-1",
      voice: "alloy",
      timeoutMs: 5000,
    });
    const pcm = await speech.synthesize(" Hello there. ", "slt");
    expect(bodies.at(-1)).toMatchObject({
      model: "tts-1",
      voice: "alloy",
      input: "Hello there.",
      response_format: "wav",
    });
    expect(pcm).toHaveLength(4800);
    expect(rms(pcm.subarray(100, -100)) / 7071).toBeCloseTo(1, 1);
  });

  it("reports a failing endpoint with its status and without the API key", async () => {
    const speech = createOpenAISpeech({
      baseURL,
      apiKey: "sk-wrong-key-987654",
      model: "tts-1",
      voice: "alloy",
      timeoutMs: 5000,
      maxRetries: 0,
    });
    const error = await speech.synthesize("Hello").then(
      () => null,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/^TTS endpoint failed: HTTP 401/);
    expect(error?.message).not.toContain("987654");
  });
});
