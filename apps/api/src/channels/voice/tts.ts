// Speech for the persona's side of a call: offline flite (in a child process) or any OpenAI-compatible
// /v1/audio/speech endpoint. Both hand back 8 kHz 16-bit mono PCM, ready for μ-law.
import { type ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { OutboundError } from "../../engine/outbound.js";
import { pcmFromWav, resample, SAMPLE_RATE } from "./audio.js";

export const FLITE_VOICES = ["kal", "slt", "rms", "awb"] as const;
export type FliteVoice = (typeof FLITE_VOICES)[number];

/** Longer text is cut: a phone turn is a few sentences, and flite's time grows with the text. */
export const MAX_TEXT_CHARS = 2000;

export interface SpeechSynthesizer {
  /** Speech as 8 kHz 16-bit mono PCM. */
  synthesize(text: string, voice?: string): Promise<Int16Array>;
  close(): Promise<void>;
}

export interface FliteSynthesizer extends SpeechSynthesizer {
  /** The worker process's id, while one runs. */
  pid(): number | undefined;
}

const FLITE_TIMEOUT_MS = 30_000;
const CACHE_SIZE = 100;

/**
 * The worker is a plain .mjs file so it runs as is under tsx (tests, dev) and under node. `tsc -b` does not
 * copy it into dist, but the package ships src (see package.json "files"), and dist/channels/voice sits as
 * deep as src/channels/voice, so the second path finds it from either place.
 */
function workerPath(): string {
  const sibling = fileURLToPath(new URL("./flite-worker.mjs", import.meta.url));
  if (existsSync(sibling)) return sibling;
  return fileURLToPath(new URL("../../../src/channels/voice/flite-worker.mjs", import.meta.url));
}

/** A request whose worker died under it: worth one more try on a fresh process. */
class WorkerCrash extends Error {}

type WorkerReply = { ready: true } | { id: number; wav: Uint8Array } | { id: number; error: string };

/** One flite child process; answers one request at a time. */
class FliteWorker {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  private readonly ready: Promise<void>;
  private pending: { id: number; resolve: (wav: Uint8Array) => void; reject: (e: Error) => void } | null =
    null;
  private nextId = 1;
  private deathReason: string | null = null;

  constructor() {
    this.child = fork(workerPath(), [], {
      execArgv: ["--no-warnings"],
      serialization: "advanced",
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    let onReady!: () => void;
    this.ready = new Promise<void>((resolve) => {
      onReady = resolve;
    });
    this.child.on("message", (raw) => {
      const message = raw as WorkerReply;
      if ("ready" in message) return onReady();
      const pending = this.pending;
      if (!pending || pending.id !== message.id) return;
      this.pending = null;
      this.idle();
      if ("error" in message) pending.reject(new Error(`flite failed: ${message.error}`));
      else pending.resolve(message.wav);
    });
    let onGone!: () => void;
    this.exited = new Promise<void>((resolve) => {
      onGone = resolve;
    });
    const die = (reason: string) => {
      this.deathReason ??= reason;
      this.pending?.reject(new WorkerCrash(this.deathReason));
      this.pending = null;
    };
    this.child.once("exit", (code, signal) => {
      die(signal ? `killed by ${signal}` : `exited with code ${code}`);
      onGone();
    });
    this.child.once("error", (error) => {
      // Failed to spawn (no process, no exit event), or the IPC channel broke: either way, done with it.
      die(error.message);
      if (this.child.pid === undefined) onGone();
      else this.child.kill("SIGKILL");
    });
    this.idle();
  }

  get alive(): boolean {
    return this.deathReason === null;
  }

  async request(text: string, voice: string): Promise<Uint8Array> {
    this.busy();
    const crashed = this.exited.then(() => {
      throw new WorkerCrash(this.deathReason ?? "exited");
    });
    crashed.catch(() => undefined); // only raced against readiness below
    await Promise.race([this.ready, crashed]);
    if (!this.alive) throw new WorkerCrash(this.deathReason ?? "exited");
    const id = this.nextId++;
    const answer = new Promise<Uint8Array>((resolve, reject) => {
      this.pending = { id, resolve, reject };
    });
    answer.catch(() => undefined); // awaited below, unless send() throws first
    // A hung flite counts as a crash: the exit handler rejects the request.
    const timer = setTimeout(() => this.child.kill("SIGKILL"), FLITE_TIMEOUT_MS);
    try {
      this.child.send({ id, text, voice });
      return await answer;
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    // Someone awaits the exit: the process stays up for it (an unref'd child's exit may never be heard).
    this.busy();
    if (this.alive) this.child.kill("SIGKILL");
    await this.exited;
  }

  // An idle worker must not keep the process alive; a busy one must (someone awaits its answer).
  private busy() {
    this.child.ref();
    this.child.channel?.ref();
  }

  private idle() {
    this.child.unref();
    this.child.channel?.unref();
  }
}

/**
 * flite in a long-lived child process (flite segfaults its process now and then): requests are serialized, a
 * dead worker is replaced and the request retried once, and the worker is recycled every `recycleAfter`
 * syntheses. Default voice kal (8 kHz); the 16 kHz voices are resampled. The last 100 results are cached.
 */
export function createFliteSynthesizer(options: { recycleAfter?: number } = {}): FliteSynthesizer {
  const recycleAfter = options.recycleAfter ?? 200;
  const cache = new Map<string, Int16Array>();
  let worker: FliteWorker | null = null;
  let served = 0;
  let closed = false;
  let queue: Promise<unknown> = Promise.resolve();

  const live = () => {
    if (!worker?.alive) {
      worker = new FliteWorker();
      served = 0;
    }
    return worker;
  };

  const run = async (text: string, voice: string): Promise<Int16Array> => {
    let wav: Uint8Array | undefined;
    for (let attempt = 1; !wav; attempt++) {
      if (closed) throw new Error("speech synthesizer is closed");
      try {
        wav = await live().request(text, voice);
      } catch (error) {
        if (!(error instanceof WorkerCrash)) throw error;
        if (attempt >= 2 || closed) {
          throw new Error(`flite synthesis failed: the worker process died twice (${error.message})`);
        }
      }
    }
    if (++served >= recycleAfter && worker) {
      void worker.stop();
      worker = null;
    }
    const { pcm, sampleRate } = pcmFromWav(wav);
    return sampleRate === SAMPLE_RATE ? pcm : resample(pcm, sampleRate, SAMPLE_RATE);
  };

  return {
    async synthesize(text, voice = "kal") {
      if (!(FLITE_VOICES as readonly string[]).includes(voice)) {
        throw new Error(`unknown flite voice "${voice}" (one of ${FLITE_VOICES.join(", ")})`);
      }
      if (closed) throw new Error("speech synthesizer is closed");
      const line = text.trim().slice(0, MAX_TEXT_CHARS);
      if (!line) return new Int16Array(0);
      const key = `${voice}\u0000${line}`;
      const hit = cache.get(key);
      if (hit) {
        cache.delete(key);
        cache.set(key, hit);
        return hit.slice();
      }
      const result = queue.then(() => run(line, voice));
      queue = result.catch(() => undefined);
      const pcm = await result;
      cache.set(key, pcm);
      if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
      return pcm.slice();
    },
    async close() {
      closed = true;
      const current = worker;
      worker = null;
      await current?.stop();
    },
    pid: () => (worker?.alive ? worker.child.pid : undefined),
  };
}

/**
 * Any OpenAI-compatible text-to-speech endpoint (`POST {baseURL}/audio/speech`, baseURL ending in /v1). The WAV
 * it returns is decoded and resampled to 8 kHz. Personas' `voice` (a flite voice) does not apply: the configured voice speaks.
 */
/** An OpenAI-compatible audio endpoint (speech or transcriptions). */
export interface AudioEndpoint {
  baseURL: string;
  apiKey: string;
  model: string;
  timeoutMs: number;
  maxRetries?: number;
}

export function endpointClient(options: AudioEndpoint): OpenAI {
  return new OpenAI({
    baseURL: options.baseURL,
    apiKey: options.apiKey,
    timeout: options.timeoutMs,
    maxRetries: options.maxRetries ?? 2,
  });
}

export function createOpenAISpeech(options: AudioEndpoint & { voice: string }): SpeechSynthesizer {
  const client = endpointClient(options);
  return {
    // The endpoint speaks with its configured voice: personas' voices name flite's.
    async synthesize(text) {
      const { voice } = options;
      const input = text.trim().slice(0, MAX_TEXT_CHARS);
      if (!input) return new Int16Array(0);
      let wav: Uint8Array;
      try {
        const response = await client.audio.speech.create({
          model: options.model,
          voice,
          input,
          response_format: "wav",
        });
        wav = new Uint8Array(await response.arrayBuffer());
      } catch (error) {
        throw endpointError("TTS", error, options.apiKey);
      }
      const { pcm, sampleRate } = pcmFromWav(wav);
      return resample(pcm, sampleRate, SAMPLE_RATE);
    },
    async close() {},
  };
}

/**
 * What went wrong with a speech endpoint, as the engine's OutboundError (retryable on network trouble, 429 and
 * 5xx). The upstream message is kept (it often names the cause) with the API key and key-like tokens removed.
 */
export function endpointError(kind: "TTS" | "STT", error: unknown, apiKey: string): OutboundError {
  const status = (error as { status?: unknown }).status;
  const upstream =
    (error as { error?: { message?: unknown } }).error?.message ?? (error as Error).message ?? String(error);
  let detail = typeof upstream === "string" ? upstream : JSON.stringify(upstream);
  if (apiKey.length >= 4) detail = detail.replaceAll(apiKey, "[redacted]");
  detail = detail.replace(/\bsk-[\w*.-]+/g, "[redacted]").slice(0, 200);
  if (typeof status === "number") {
    return new OutboundError(
      `${kind} endpoint failed: HTTP ${status}${detail ? ` (${detail})` : ""}`,
      status === 408 || status === 429 || status >= 500,
      status,
    );
  }
  return new OutboundError(`${kind} endpoint failed: unreachable (${detail})`, true);
}
