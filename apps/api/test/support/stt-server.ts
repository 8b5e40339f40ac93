// An OpenAI-compatible /v1/audio/transcriptions endpoint on loopback that "recognises" flite speech of known
// phrases. No real recogniser copes with 8 kHz phone audio offline, but tests only ever say phrases they know:
// each phrase is synthesized once (same flite voice, 8 kHz, through μ-law like a call) and incoming audio is
// compared with those references sample by sample.
import http from "node:http";
import type { AddressInfo } from "node:net";
import {
  FRAME_SAMPLES,
  mulawDecode,
  mulawEncode,
  pcmFromWav,
  resample,
  SAMPLE_RATE,
} from "../../src/channels/voice/audio.js";
import { createFliteSynthesizer, type SpeechSynthesizer } from "../../src/channels/voice/tts.js";

export interface SttRequest {
  model: string;
  authorization?: string;
  /** Size of the uploaded file. */
  bytes: number;
}

export interface SttServer {
  /** Base URL for the OpenAI SDK: http://127.0.0.1:PORT/v1 */
  url: string;
  requests: SttRequest[];
  /** Adds a phrase to the ones it can recognise. */
  learn(phrase: string): Promise<void>;
  /** The transcription the server would answer for this audio (same rules as over HTTP). */
  recognise(pcm: Int16Array, sampleRate?: number): string;
  close(): Promise<void>;
}

/**
 * Samples quieter than this are near-silence when trimming. flite opens with ~200 ms of faint breath that a
 * caller's speech detector may or may not keep; trimming above it makes both cases start at the same sample.
 */
const SILENCE_LEVEL = 1000;
/** Heard audio shorter than this (after trimming) is not worth matching: 100 ms. */
const MIN_MATCH_SAMPLES = 800;
/**
 * How the heard audio may sit against a reference: up to 10 ms earlier (trimming differences, resampling) or up
 * to 300 ms into it (a speech detector that kept no pre-roll and clipped the first sounds).
 */
const MAX_LEAD = 80;
const MAX_SKIP = 2400;
/** Audio used to find the alignment: 150 ms. */
const ALIGN_WINDOW = 1200;
/** Normalized correlation needed to call it the same speech (identical audio scores 1). */
const MIN_CORRELATION = 0.8;

export function trimSilence(pcm: Int16Array): Int16Array {
  let start = 0;
  while (start < pcm.length && Math.abs(pcm[start]!) < SILENCE_LEVEL) start++;
  let end = pcm.length;
  while (end > start && Math.abs(pcm[end - 1]!) < SILENCE_LEVEL) end--;
  return pcm.subarray(start, end);
}

/** What survives a phone call: 8 kHz, μ-law quantization (a μ-law round trip is idempotent). */
function asHeardOnACall(pcm: Int16Array, sampleRate: number): Int16Array {
  const narrow = sampleRate === SAMPLE_RATE ? pcm : resample(pcm, sampleRate, SAMPLE_RATE);
  return mulawDecode(mulawEncode(narrow));
}

/** Normalized correlation of a[aStart..] with b[bStart..] over `length` samples. */
function correlation(a: Int16Array, aStart: number, b: Int16Array, bStart: number, length: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < length; i++) {
    const x = a[aStart + i]!;
    const y = b[bStart + i]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa && bb ? ab / Math.sqrt(aa * bb) : 0;
}

interface Reference {
  phrase: string;
  pcm: Int16Array;
  energy: Float64Array;
}

/** energy[i] = Σ pcm[0..i)², so any window's energy is one subtraction. */
function cumulativeEnergy(pcm: Int16Array): Float64Array {
  const energy = new Float64Array(pcm.length + 1);
  for (let i = 0; i < pcm.length; i++) energy[i + 1] = energy[i]! + pcm[i]! * pcm[i]!;
  return energy;
}

/** The best alignment of `x` (with prefix energies `xEnergy`) against a reference, for lags in [from, to]. */
function align(
  x: Int16Array,
  xEnergy: Float64Array,
  reference: Reference,
  from: number,
  to: number,
): { lag: number; c: number } {
  const r = reference.pcm;
  let best = { lag: 0, c: -1 };
  for (let lag = from; lag <= to; lag++) {
    const xs = Math.max(lag, 0);
    const rs = Math.max(-lag, 0);
    const window = Math.min(ALIGN_WINDOW, x.length - xs, r.length - rs);
    if (window < MIN_MATCH_SAMPLES) continue;
    let ab = 0;
    for (let i = 0; i < window; i++) ab += x[xs + i]! * r[rs + i]!;
    const aa = xEnergy[xs + window]! - xEnergy[xs]!;
    const bb = reference.energy[rs + window]! - reference.energy[rs]!;
    const c = aa && bb ? ab / Math.sqrt(aa * bb) : 0;
    if (c > best.c) best = { lag, c };
  }
  return best;
}

/**
 * The phrase whose reference audio the heard audio starts with. Heard audio reaching the end of the reference
 * gives the phrase; shorter (cut off by a barge-in) gives the share of its words matching the share of audio
 * heard, at least the first word. Anything else: "".
 */
function recogniseAgainst(references: Reference[], heard: Int16Array): string {
  const x = trimSilence(heard);
  if (x.length < MIN_MATCH_SAMPLES) return "";
  const xEnergy = cumulativeEnergy(x);
  // `lag` > 0: the heard audio has extra samples first; < 0: it starts `-lag` samples into the reference.
  // Trimmed audio nearly always lines up within MAX_LEAD; the wide search is the fallback.
  const search = (from: number) => {
    // `end`: how far into the reference the heard audio reaches.
    let best: { reference: Reference; score: number; end: number } | null = null;
    for (const reference of references) {
      const r = reference.pcm;
      if (Math.min(x.length, r.length) < MIN_MATCH_SAMPLES) continue;
      const { lag, c } = align(x, xEnergy, reference, from, MAX_LEAD);
      if (c < MIN_CORRELATION) continue;
      // Score the whole overlap at that alignment.
      const skipped = Math.max(-lag, 0);
      const overlap = Math.min(x.length - Math.max(lag, 0), r.length - skipped);
      const score = correlation(x, Math.max(lag, 0), r, skipped, overlap);
      if (score >= MIN_CORRELATION && (!best || score > best.score)) {
        best = { reference, score, end: skipped + overlap };
      }
    }
    return best;
  };
  const best = search(-MAX_LEAD) ?? search(-MAX_SKIP);
  if (!best) return "";
  const { phrase, pcm } = best.reference;
  if (best.end >= pcm.length - FRAME_SAMPLES) return phrase;
  const words = phrase.split(/\s+/);
  const count = Math.max(1, Math.floor((words.length * best.end) / pcm.length));
  return words
    .slice(0, count)
    .join(" ")
    .replace(/[,.;:!?]+$/, "");
}

interface Part {
  name: string;
  filename?: string;
  data: Buffer;
}

/** Just enough multipart/form-data for the OpenAI SDK's uploads. */
function parseMultipart(body: Buffer, contentType: string): Part[] {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) return [];
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const parts: Part[] = [];
  let start = body.indexOf(delimiter);
  while (start !== -1) {
    const headerStart = start + delimiter.length + 2; // CRLF after the delimiter ("--" after the last one)
    if (body.subarray(start + delimiter.length, start + delimiter.length + 2).toString() === "--") break;
    const next = body.indexOf(delimiter, headerStart);
    if (next === -1) break;
    const headerEnd = body.indexOf("\r\n\r\n", headerStart);
    if (headerEnd === -1 || headerEnd > next) break;
    const headers = body.subarray(headerStart, headerEnd).toString("utf8");
    const name = /name="([^"]*)"/i.exec(headers)?.[1];
    const filename = /filename="([^"]*)"/i.exec(headers)?.[1];
    if (name !== undefined) {
      parts.push({ name, filename, data: body.subarray(headerEnd + 4, next - 2) }); // CRLF before delimiter
    }
    start = next;
  }
  return parts;
}

/** Starts the server; `phrases` are synthesized with flite `voice` (default kal) before it answers. */
export async function startSttServer(options: {
  phrases: string[];
  voice?: string;
  /** Share one flite worker between peers; otherwise the server runs (and closes) its own. */
  synthesizer?: SpeechSynthesizer;
}): Promise<SttServer> {
  const synthesizer = options.synthesizer ?? createFliteSynthesizer();
  const references: Reference[] = [];
  const learn = async (phrase: string) => {
    if (references.some((r) => r.phrase === phrase)) return;
    const pcm = trimSilence(asHeardOnACall(await synthesizer.synthesize(phrase, options.voice), SAMPLE_RATE));
    if (!references.some((r) => r.phrase === phrase)) {
      references.push({ phrase, pcm, energy: cumulativeEnergy(pcm) });
    }
  };
  for (const phrase of options.phrases) await learn(phrase);

  const requests: SttRequest[] = [];
  const answer = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const invalid = (res: http.ServerResponse, param: string, message: string) =>
    answer(res, 400, { error: { message, type: "invalid_request_error", param, code: null } });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/audio/transcriptions") {
        answer(res, 404, {
          error: { message: "Not found", type: "invalid_request_error", param: null, code: null },
        });
        return;
      }
      const parts = parseMultipart(Buffer.concat(chunks), req.headers["content-type"] ?? "");
      const file = parts.find((p) => p.name === "file" && p.filename !== undefined);
      const model = parts.find((p) => p.name === "model")?.data.toString("utf8") ?? "";
      requests.push({ model, authorization: req.headers.authorization, bytes: file?.data.length ?? 0 });
      if (!file) return invalid(res, "file", "Missing required parameter: 'file'.");
      if (!model) return invalid(res, "model", "Missing required parameter: 'model'.");
      let audio: { pcm: Int16Array; sampleRate: number };
      try {
        audio = pcmFromWav(file.data);
      } catch {
        return invalid(res, "file", "Invalid file format. This server understands WAV only.");
      }
      answer(res, 200, { text: recogniseAgainst(references, asHeardOnACall(audio.pcm, audio.sampleRate)) });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    learn,
    recognise: (pcm, sampleRate = SAMPLE_RATE) =>
      recogniseAgainst(references, asHeardOnACall(pcm, sampleRate)),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
      if (!options.synthesizer) await synthesizer.close();
    },
  };
}
