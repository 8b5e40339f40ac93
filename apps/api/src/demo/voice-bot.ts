// The demo voice bot: a Twilio Media Streams server, as a customer's voice bot is — Twilio (here: Mimic) connects
// to it over WebSocket. It hears the caller by energy (speech, then 400 ms of quiet), transcribes each utterance
// through an OpenAI-compatible STT endpoint, and answers with flite speech in `media` messages followed by a
// `mark`; when the caller talks over it, it sends `clear`. `pnpm dev` runs it when STT is configured; Mimic's own
// tests run it too, with `misbehave` switches that make it a broken bot.
import type http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import {
  durationMs,
  FRAME_MS,
  FRAME_SAMPLES,
  mulawDecode,
  mulawEncode,
  SAMPLE_RATE,
  wavFromPcm,
} from "../channels/voice/audio.js";
import type { Transcriber } from "../channels/voice/stt.js";
import { createFliteSynthesizer, type SpeechSynthesizer } from "../channels/voice/tts.js";

/** A Media Streams message as JSON. */
export type TwilioFrame = { event?: string; [key: string]: unknown };

export interface VoiceBotCall {
  /** Upgrade request path and query. */
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Every frame received, in order, with its arrival time (performance.now()). */
  events: { at: number; message: TwilioFrame | null; raw?: string }[];
  connected?: TwilioFrame;
  start?: TwilioFrame;
  /** streamSid from the start frame. */
  streamSid?: string;
  mediaFrames: number;
  /** Arrival time of each media frame, ms (performance.now()). */
  mediaArrivals: number[];
  /** Digits received as dtmf events. */
  dtmf: string;
  /** Marks Mimic sent back (Twilio returns a mark once the audio before it has played). */
  marksReturned: { name: string; at: number }[];
  stopped: boolean;
  /** Persona utterances, as transcribed. */
  heard: string[];
  /** What the bot said; `cleared` when it cut itself off because the persona barged in. */
  said: { text: string; at: number; cleared?: boolean }[];
  /** Protocol trouble noticed (unparseable frames, media before start, STT failures). */
  problems: string[];
  closed: boolean;
}

export interface VoiceBotOptions {
  /** How the bot hears the caller. */
  transcriber: Transcriber;
  /** Port on 127.0.0.1 (default: any free one). */
  port?: number;
  /** Keep every frame received in `calls[].events` and `mediaArrivals` (tests); off, calls keep only their summary. */
  record?: boolean;
  /** Said right after `start`. */
  greeting?: string;
  /** The answer to each persona utterance; undefined = stay quiet. Default: see `defaultReply`. */
  reply?: (heard: string, call: VoiceBotCall) => string | undefined;
  /** Pause between the end of a persona utterance (its transcript) and the answer. Default 200. */
  replyDelayMs?: number;
  /** Audio per media message. Default 100. */
  chunkMs?: number;
  /** Pace media messages in real time instead of sending an utterance at once, as TTS bots do. */
  realtime?: boolean;
  /** Send `mark` "reply-N" after each utterance. */
  mark?: boolean;
  /** When the persona speaks while the bot is still playing: "clear" (default) cuts the bot off. */
  onBargeIn?: "clear" | "ignore";
  /** Broken bots, for Mimic's tests — "pcm16": the wrong format, 16-bit little-endian linear PCM in the payload. */
  format?: "mulaw" | "pcm16";
  /** "wrong" = frames carry a streamSid other than the one in `start`. */
  streamSid?: "echo" | "wrong";
  /** Also send a non-JSON frame and a media frame with invalid base64 after `start`. */
  badFrames?: boolean;
  /** Hang up (close the socket) once its Nth utterance has played. */
  hangUpAfter?: number;
  /** flite voice. Default kal. */
  voice?: string;
  /** Share one flite worker between peers; otherwise the bot runs (and closes) its own. */
  synthesizer?: SpeechSynthesizer;
}

export interface VoiceBot {
  /** ws://127.0.0.1:PORT/media */
  url: string;
  calls: VoiceBotCall[];
  close(): Promise<void>;
}

export const defaultReply = (heard: string): string =>
  heard ? `You said: ${heard}` : "Sorry, I did not catch that.";

/** Everything a bot with these options can say when the persona says `personaLines` (for the STT server). */
export function voiceBotPhrases(
  options: Pick<VoiceBotOptions, "greeting" | "reply">,
  personaLines: string[],
): string[] {
  const reply = options.reply ?? defaultReply;
  const lines = [options.greeting, ...personaLines.map((line) => reply(line, newCall("/media", {})))];
  if (!options.reply) lines.push(defaultReply(""));
  return [...new Set(lines.filter((line): line is string => !!line))];
}

/** Frame RMS above this is speech (flite speech frames run 1–5 k; μ-law silence decodes to 0). */
const SPEECH_RMS = 200;
/** Quiet that ends a persona utterance. */
const END_SILENCE_FRAMES = 400 / FRAME_MS;
/** Audio kept from before the speech onset, so soft beginnings reach the STT. */
const PRE_ROLL_FRAMES = 300 / FRAME_MS;
const WRONG_STREAM_SID = "MZ00000000000000000000000000000000";

function newCall(url: string, headers: http.IncomingHttpHeaders): VoiceBotCall {
  return {
    url,
    headers,
    events: [],
    mediaFrames: 0,
    mediaArrivals: [],
    dtmf: "",
    marksReturned: [],
    stopped: false,
    heard: [],
    said: [],
    problems: [],
    closed: false,
  };
}

function rms(frame: Int16Array): number {
  let sum = 0;
  for (const x of frame) sum += x * x;
  return Math.sqrt(sum / frame.length);
}

export async function startVoiceBot(options: VoiceBotOptions): Promise<VoiceBot> {
  const synthesizer = options.synthesizer ?? createFliteSynthesizer();
  const { transcriber } = options;
  const wss = new WebSocketServer({ host: "127.0.0.1", port: options.port ?? 0, path: "/media" });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const calls: VoiceBotCall[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  wss.on("connection", (socket, req) => {
    const call = newCall(req.url ?? "", req.headers);
    calls.push(call);
    const send = (message: unknown) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    };
    const outgoingSid = () => (options.streamSid === "wrong" ? WRONG_STREAM_SID : call.streamSid);

    // What the bot is playing now (its audio was sent; the caller is hearing it until endsAt).
    let playing: { entry: VoiceBotCall["said"][number]; endsAt: number; stop: boolean } | null = null;
    const say = async (text: string) => {
      const pcm = await synthesizer.synthesize(text, options.voice);
      if (socket.readyState !== WebSocket.OPEN) return;
      const bytes =
        options.format === "pcm16"
          ? Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)
          : mulawEncode(pcm);
      const chunkMs = options.chunkMs ?? 100;
      const chunkBytes = ((options.format === "pcm16" ? 2 : 1) * SAMPLE_RATE * chunkMs) / 1000;
      const entry: VoiceBotCall["said"][number] = { text, at: performance.now() };
      call.said.push(entry);
      const n = call.said.length;
      const current = { entry, endsAt: entry.at + durationMs(pcm.length), stop: false };
      playing = current;
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += chunkBytes) chunks.push(bytes.subarray(i, i + chunkBytes));
      const sendChunk = (chunk: Buffer) =>
        send({ event: "media", streamSid: outgoingSid(), media: { payload: chunk.toString("base64") } });
      const finish = () => {
        if (options.mark) send({ event: "mark", streamSid: outgoingSid(), mark: { name: `reply-${n}` } });
        if (n === options.hangUpAfter)
          later(durationMs(pcm.length) + 200, () => socket.close(1000, "goodbye"));
      };
      if (!options.realtime) {
        for (const chunk of chunks) sendChunk(chunk);
        finish();
        return;
      }
      const next = (i: number) => {
        if (current.stop || socket.readyState !== WebSocket.OPEN) return;
        if (i === chunks.length) return finish();
        sendChunk(chunks[i]!);
        later(chunkMs, () => next(i + 1));
      };
      next(0);
    };

    const speak = (text: string) => {
      say(text).catch((error: Error) => call.problems.push(`speech synthesis failed: ${error.message}`));
    };

    // Hearing the persona: 20 ms frames of decoded μ-law, however the payloads were cut.
    let pending = new Int16Array(0);
    const preRoll: Int16Array[] = [];
    let utterance: Int16Array[] | null = null;
    let quietFrames = 0;
    let turns = Promise.resolve();
    const onFrame = (frame: Int16Array) => {
      const speech = rms(frame) > SPEECH_RMS;
      if (!utterance) {
        preRoll.push(frame);
        if (preRoll.length > PRE_ROLL_FRAMES) preRoll.shift();
        if (!speech) return;
        utterance = [...preRoll];
        preRoll.length = 0;
        quietFrames = 0;
        if (playing && playing.endsAt > performance.now() && (options.onBargeIn ?? "clear") === "clear") {
          playing.stop = true;
          playing.entry.cleared = true;
          playing = null;
          send({ event: "clear", streamSid: outgoingSid() });
        }
        return;
      }
      utterance.push(frame);
      quietFrames = speech ? 0 : quietFrames + 1;
      if (quietFrames < END_SILENCE_FRAMES) return;
      const audio = new Int16Array(utterance.length * FRAME_SAMPLES);
      for (const [i, f] of utterance.entries()) audio.set(f, i * FRAME_SAMPLES);
      utterance = null;
      turns = turns.then(() => answer(audio));
    };
    const answer = async (audio: Int16Array) => {
      let heard: string;
      try {
        heard = await transcriber.transcribe(wavFromPcm(audio));
      } catch (error) {
        call.problems.push(`transcription failed: ${(error as Error).message}`);
        return;
      }
      call.heard.push(heard);
      const text = (options.reply ?? defaultReply)(heard, call);
      if (text) later(options.replyDelayMs ?? 200, () => speak(text));
    };
    const onMedia = (payload: unknown) => {
      if (typeof payload !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) {
        call.problems.push("media payload is not base64");
        return;
      }
      const decoded = mulawDecode(Buffer.from(payload, "base64"));
      const joined = new Int16Array(pending.length + decoded.length);
      joined.set(pending);
      joined.set(decoded, pending.length);
      let offset = 0;
      for (; offset + FRAME_SAMPLES <= joined.length; offset += FRAME_SAMPLES) {
        onFrame(joined.subarray(offset, offset + FRAME_SAMPLES));
      }
      pending = joined.slice(offset);
    };

    socket.on("message", (data) => {
      const at = performance.now();
      const raw = data.toString();
      let frame: TwilioFrame | null = null;
      try {
        const parsed: unknown = JSON.parse(raw);
        if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) frame = parsed as TwilioFrame;
      } catch {}
      if (options.record) call.events.push(frame ? { at, message: frame } : { at, message: null, raw });
      if (!frame) {
        call.problems.push("frame is not a JSON object");
        return;
      }
      switch (frame.event) {
        case "connected":
          call.connected = frame;
          break;
        case "start": {
          call.start = frame;
          const start = frame.start as { streamSid?: string } | undefined;
          call.streamSid = (frame.streamSid as string | undefined) ?? start?.streamSid;
          if (options.badFrames) {
            if (socket.readyState === WebSocket.OPEN) socket.send("this is not JSON");
            send({ event: "media", streamSid: outgoingSid(), media: { payload: "%%% not base64 %%%" } });
          }
          if (options.greeting) speak(options.greeting);
          break;
        }
        case "media":
          call.mediaFrames++;
          if (options.record) call.mediaArrivals.push(at);
          if (!call.start) call.problems.push("media before start");
          onMedia((frame.media as { payload?: unknown } | undefined)?.payload);
          break;
        case "dtmf":
          call.dtmf += (frame.dtmf as { digit?: string } | undefined)?.digit ?? "";
          break;
        case "mark":
          call.marksReturned.push({ name: (frame.mark as { name?: string } | undefined)?.name ?? "", at });
          break;
        case "stop":
          call.stopped = true;
          break;
        default:
          call.problems.push(`unknown event ${JSON.stringify(frame.event)}`);
      }
    });
    socket.on("close", () => {
      call.closed = true;
      if (playing) playing.stop = true;
    });
  });

  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/media`,
    calls,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      });
      if (!options.synthesizer) await synthesizer.close();
    },
  };
}
