// One call to a voice bot, as Twilio Media Streams would place it: Mimic dials the bot's WebSocket, sends
// `connected` and `start`, then the caller's audio as 20 ms μ-law `media` frames in real time — silence when the
// persona is quiet, as a phone line carries — and `stop` at the end. What the bot sends back is played on a
// simulated playback clock: `mark`s come back once the audio before them has played, `clear` drops what is
// still buffered (barge-in), and the bot's utterances are cut out of the stream by voice-activity detection.
import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import type { VoiceFinding } from "@mimic/db";
import WebSocket from "ws";
import { dialAgentSocket } from "../../engine/agents/websocket.js";
import type { OutboundPolicy } from "../../engine/outbound.js";
import {
  FRAME_MS,
  FRAME_SAMPLES,
  looksLikeLinearPcm,
  MULAW_SILENCE,
  mulawDecode,
  mulawEncode,
  SAMPLE_RATE,
} from "./audio.js";
import type { Vad } from "./vad.js";

/** Largest frame Mimic reads from a bot (a `media` message of several seconds is fine; megabytes are not). */
const MAX_FRAME_BYTES = 1024 * 1024;
/** DTMF digits go out this far apart, as a caller presses keys. */
export const DTMF_GAP_MS = 250;
/** A bot that sends audio far ahead of real time still has it played in real time; past this much it is refused. */
const MAX_BUFFERED_MS = 120_000;
/** The longest stretch of a bot's speech recorded as one message (the STT endpoint gets it in pieces this long). */
const MAX_UTTERANCE_MS = 60_000;
/** Frames sent at once when the event loop fell behind (beyond this, the stream skips ahead). */
const MAX_CATCH_UP_FRAMES = 50;

export interface CallOptions {
  url: URL;
  headers: Record<string, string>;
  customParameters: Record<string, string>;
  policy: OutboundPolicy;
  /** A bot utterance ends after this much silence on the playback clock. */
  silenceMs: number;
  vad: Vad;
  /** Barge in this many ms into each bot utterance, saying `interjection`. */
  interruptAfterMs?: number | undefined;
  interjection?: Int16Array | undefined;
  events: CallEvents;
}

export interface CallEvents {
  /** The bot began to speak (its first voiced audio, at `startMs` on the playback clock). */
  speaking(startMs: number): void;
  /** The bot finished an utterance. */
  utterance(utterance: Utterance): void;
  /** An utterance under way was cleared before a word of it played: nothing was heard. */
  unheard(startMs: number): void;
  /** Something in the bot's stream breaks the protocol (reported once per kind per call). */
  finding(kind: VoiceFinding, detail: string): void;
  /** The bot closed the connection. */
  hangup(code: number, reason: string): void;
}

export interface Utterance {
  /** Call clock (ms since `start`), on the playback clock: what the caller heard and when. */
  startMs: number;
  /** `startMs` exactly as `speaking` announced it. */
  announcedAt: number;
  endMs: number;
  /** 8 kHz 16-bit PCM, from its first voiced frame to its last. */
  audio: Int16Array;
  /** The persona barged in `afterMs` into the utterance; the bot sent `clear` `clearedAfterMs` after that. */
  bargeIn?: { afterMs: number; clearedAfterMs: number | null };
}

interface Speech {
  startMs: number;
  endMs: number;
}

interface OpenUtterance {
  startMs: number;
  /** PCM frames in playback order, each at its call-clock time. */
  frames: { at: number; pcm: Int16Array }[];
  lastVoiceEnd: number;
  endTimer?: NodeJS.Timeout;
  interruptTimer?: NodeJS.Timeout;
  interruptAt?: number;
  clearedAt?: number;
}

const sid = (prefix: string) => `${prefix}${randomBytes(16).toString("hex")}`;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export class MediaStreamCall {
  readonly streamSid = sid("MZ");
  readonly callSid = sid("CA");
  readonly accountSid = sid("AC");
  private ws: WebSocket | undefined;
  private t0 = 0;
  /** Wall-clock time of the call clock's zero. */
  private epoch = 0;
  private sequence = 0;
  private chunk = 0;
  private framesSent = 0;
  private pacer: NodeJS.Timeout | undefined;
  /** The caller's audio waiting to go out, one μ-law frame each, with whoever waits for a frame to be sent. */
  private outgoing: { frame: Buffer; sent?: () => void }[] = [];
  /** Where the bot's buffered audio ends on the call clock. */
  private playhead = 0;
  private marks: { name: string; timer: NodeJS.Timeout }[] = [];
  private utterance: OpenUtterance | undefined;
  private reported = new Set<VoiceFinding>();
  private ended = false;
  /** When the persona's speech that is going out started and ends (call clock). */
  private speaking: Speech | undefined;
  /** Whoever waits on speech still queued when the call ends. */
  private readonly onEnd = new Set<() => void>();

  constructor(private readonly options: CallOptions) {}

  /** The call clock: ms since `start` was sent. */
  now() {
    return performance.now() - this.t0;
  }

  /** Dials the bot and sends `connected` and `start`; the caller's line then carries audio until `stop`. */
  async connect(): Promise<void> {
    const { ws, ready } = dialAgentSocket(this.options.url, {
      headers: this.options.headers,
      policy: this.options.policy,
      maxPayload: MAX_FRAME_BYTES,
    });
    this.ws = ws;
    await ready;
    ws.on("error", () => {});
    ws.on("message", (data, isBinary) => this.receive(data as Buffer, isBinary));
    ws.on("close", (code, reason) => {
      const wasOpen = !this.ended;
      // What the bot said before it hung up was heard, up to now: it is its last utterance.
      const last = this.utterance;
      if (wasOpen && last) {
        const now = this.now();
        last.frames = last.frames.filter((f) => f.at < now);
        last.lastVoiceEnd = Math.min(last.lastVoiceEnd, now);
        if (last.startMs < now) this.finish(last, true);
      }
      this.halt();
      if (wasOpen) this.options.events.hangup(code, reason.toString("utf8"));
    });
    this.send({ event: "connected", protocol: "Call", version: "1.0.0" });
    this.t0 = performance.now();
    this.epoch = Date.now();
    this.send({
      event: "start",
      sequenceNumber: String(++this.sequence),
      start: {
        accountSid: this.accountSid,
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ["inbound"],
        customParameters: this.options.customParameters,
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: SAMPLE_RATE, channels: 1 },
      },
      streamSid: this.streamSid,
    });
    this.pacer = setInterval(() => this.pace(), FRAME_MS);
  }

  /** The wall-clock time of a call-clock instant. */
  at(ms: number) {
    return new Date(this.epoch + ms);
  }

  get open() {
    return !this.ended && this.ws?.readyState === WebSocket.OPEN;
  }

  /** The bot is talking: an utterance is under way (silence it streams, as some bots do, is not talking). */
  get botTalking() {
    return this.utterance !== undefined;
  }

  get personaTalking() {
    return this.speaking !== undefined && this.speaking.endMs > this.now();
  }

  /**
   * Says `pcm` on the caller's line, after whatever is already queued: when it will start and end on the call
   * clock (known at once), and `done` once its last frame went out.
   */
  speak(pcm: Int16Array): Speech & { done: Promise<void> } {
    const frames: Buffer[] = [];
    for (let i = 0; i < pcm.length; i += FRAME_SAMPLES) {
      const frame = Buffer.alloc(FRAME_SAMPLES, MULAW_SILENCE);
      mulawEncode(pcm.subarray(i, i + FRAME_SAMPLES)).copy(frame);
      frames.push(frame);
    }
    if (frames.length === 0 || !this.open) {
      const at = Math.round(this.now());
      return { startMs: at, endMs: at, done: Promise.resolve() };
    }
    const startMs = (this.framesSent + this.outgoing.length) * FRAME_MS;
    const speech = { startMs, endMs: startMs + frames.length * FRAME_MS };
    this.speaking = speech;
    const done = new Promise<void>((resolve) => {
      for (const frame of frames) this.outgoing.push({ frame });
      // A call that ends first resolves too: nobody waits forever on a hung-up line.
      this.onEnd.add(resolve);
      this.outgoing.at(-1)!.sent = () => {
        this.onEnd.delete(resolve);
        resolve();
      };
    });
    return { ...speech, done };
  }

  /** When keys pressed from now would be done (call clock). */
  dtmfEnd(digits: string) {
    return Math.round(this.now()) + digits.length * DTMF_GAP_MS;
  }

  /** Presses keys: one `dtmf` message per digit. */
  async dtmf(digits: string) {
    for (const digit of digits) {
      if (!this.open) return;
      this.send({
        event: "dtmf",
        streamSid: this.streamSid,
        sequenceNumber: String(++this.sequence),
        dtmf: { track: "inbound_track", digit },
      });
      await delay(DTMF_GAP_MS);
    }
  }

  /** Waits until the bot is quiet (or `maxMs` passed): a polite caller does not talk over the bot. */
  async quiet(maxMs: number) {
    const until = performance.now() + maxMs;
    while (this.open && this.botTalking && performance.now() < until) await delay(FRAME_MS);
  }

  /** Ends the call: `stop`, then the connection closes. */
  hangUp() {
    if (this.ended) return;
    if (this.ws?.readyState === WebSocket.OPEN) {
      this.send({
        event: "stop",
        sequenceNumber: String(++this.sequence),
        streamSid: this.streamSid,
        stop: { accountSid: this.accountSid, callSid: this.callSid },
      });
    }
    this.halt();
    this.ws?.close(1000, "call ended");
  }

  private halt() {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.pacer);
    for (const mark of this.marks) clearTimeout(mark.timer);
    this.marks = [];
    if (this.utterance) {
      clearTimeout(this.utterance.endTimer);
      clearTimeout(this.utterance.interruptTimer);
      this.utterance = undefined;
    }
    this.outgoing = [];
    for (const done of this.onEnd) done();
    this.onEnd.clear();
  }

  private send(message: unknown) {
    this.ws?.send(JSON.stringify(message));
  }

  /** Sends every frame that is due: one per 20 ms of call time, speech if queued, silence otherwise. */
  private pace() {
    const due = Math.floor(this.now() / FRAME_MS) + 1;
    if (due - this.framesSent > MAX_CATCH_UP_FRAMES) {
      // The process stalled: the line skips ahead rather than flood the bot with a burst.
      this.framesSent = due - MAX_CATCH_UP_FRAMES;
    }
    while (this.framesSent < due && this.open) {
      const next = this.outgoing.shift();
      this.send({
        event: "media",
        sequenceNumber: String(++this.sequence),
        media: {
          track: "inbound",
          chunk: String(++this.chunk),
          timestamp: String(this.framesSent * FRAME_MS),
          payload: (next?.frame ?? SILENT_FRAME).toString("base64"),
        },
        streamSid: this.streamSid,
      });
      this.framesSent++;
      next?.sent?.();
    }
    if (this.speaking && this.outgoing.length === 0 && this.speaking.endMs <= this.now())
      this.speaking = undefined;
  }

  private report(kind: VoiceFinding, detail: string) {
    if (this.reported.has(kind)) return;
    this.reported.add(kind);
    this.options.events.finding(kind, detail);
  }

  private receive(data: Buffer, isBinary: boolean) {
    if (this.ended) return;
    if (isBinary) {
      this.report(
        "bad_frame",
        "The bot sent a binary WebSocket frame; Media Streams messages are JSON text.",
      );
      return;
    }
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(data.toString("utf8")) as Record<string, unknown>;
      if (!message || typeof message !== "object" || Array.isArray(message)) throw new Error("not an object");
    } catch {
      this.report(
        "bad_frame",
        `The bot sent a frame that is not a JSON object: ${snippet(data.toString("utf8"))}`,
      );
      return;
    }
    const event = message.event;
    if (event !== "media" && event !== "mark" && event !== "clear") {
      this.report(
        "unknown_event",
        typeof event === "string"
          ? `The bot sent an event Twilio does not accept: "${snippet(event)}" (expected media, mark or clear).`
          : "The bot sent a frame without an `event`.",
      );
      return;
    }
    if (message.streamSid !== this.streamSid) {
      this.report(
        "wrong_stream",
        `The bot sent a ${event} for stream ${snippet(String(message.streamSid))}; this call's streamSid is ${this.streamSid}.`,
      );
      return;
    }
    if (event === "media") {
      const payload = (message.media as { payload?: unknown } | undefined)?.payload;
      if (typeof payload !== "string" || payload.length % 4 !== 0 || !BASE64.test(payload)) {
        this.report("bad_frame", "The bot sent a media message whose `media.payload` is not base64 audio.");
        return;
      }
      this.play(Buffer.from(payload, "base64"));
    } else if (event === "mark") {
      const name = (message.mark as { name?: unknown } | undefined)?.name;
      if (typeof name !== "string" || name.length === 0) {
        this.report("mark_misuse", "The bot sent a mark without a `mark.name`.");
        return;
      }
      this.mark(name);
    } else {
      this.clear();
    }
  }

  /** Puts the bot's audio on the playback clock, after what is already buffered, and listens to it. */
  private play(audio: Buffer) {
    if (audio.length === 0) return;
    const now = this.now();
    const at = Math.max(now, this.playhead);
    if (at - now > MAX_BUFFERED_MS) {
      this.report("bad_frame", `The bot sent audio more than ${MAX_BUFFERED_MS / 1000} s ahead of playback.`);
      return;
    }
    // Reported once per call: once it is, the bot's later chunks need no second look.
    if (
      !this.reported.has("wrong_format") &&
      audio.length >= 2 * FRAME_SAMPLES &&
      looksLikeLinearPcm(audio)
    ) {
      this.report(
        "wrong_format",
        "The bot's audio looks like 16-bit linear PCM; Media Streams carry 8 kHz μ-law (audio/x-mulaw).",
      );
    }
    const pcm = mulawDecode(audio);
    for (let i = 0; i < pcm.length; i += FRAME_SAMPLES) {
      const piece = pcm.subarray(i, i + FRAME_SAMPLES);
      const t = at + (i / SAMPLE_RATE) * 1000;
      const frame = piece.length === FRAME_SAMPLES ? piece : padded(piece);
      const voiced = this.options.vad.isSpeech(frame);
      if (voiced && !this.utterance) this.begin(t);
      const utterance = this.utterance;
      if (!utterance) continue;
      utterance.frames.push({ at: t, pcm: piece });
      if (voiced) utterance.lastVoiceEnd = t + (piece.length / SAMPLE_RATE) * 1000;
      // A bot that never pauses is heard in pieces: each one transcribed and recorded on its own.
      if (utterance.lastVoiceEnd - utterance.startMs >= MAX_UTTERANCE_MS) this.finish(utterance, true);
    }
    this.playhead = at + (pcm.length / SAMPLE_RATE) * 1000;
    if (this.utterance) this.scheduleEnd(this.utterance);
  }

  private begin(at: number) {
    const utterance: OpenUtterance = { startMs: at, frames: [], lastVoiceEnd: at };
    this.utterance = utterance;
    this.options.events.speaking(at);
    const { interruptAfterMs, interjection } = this.options;
    if (interruptAfterMs !== undefined && interjection?.length) {
      utterance.interruptTimer = setTimeout(
        () => {
          // Still talking, and the persona is not: barge in.
          if (this.utterance !== utterance || utterance.clearedAt !== undefined || this.personaTalking)
            return;
          utterance.interruptAt = this.now();
          this.speak(interjection);
        },
        Math.max(0, at + interruptAfterMs - this.now()),
      );
    }
  }

  private scheduleEnd(utterance: OpenUtterance) {
    clearTimeout(utterance.endTimer);
    const wait = utterance.lastVoiceEnd + this.options.silenceMs - this.now();
    utterance.endTimer = setTimeout(() => this.finish(utterance), Math.max(0, wait));
  }

  private finish(utterance: OpenUtterance, now = false) {
    if (this.utterance !== utterance) return;
    if (!now && utterance.lastVoiceEnd + this.options.silenceMs > this.now() + 1) {
      this.scheduleEnd(utterance);
      return;
    }
    clearTimeout(utterance.interruptTimer);
    clearTimeout(utterance.endTimer);
    this.utterance = undefined;
    const heard = utterance.frames.filter((f) => f.at < utterance.lastVoiceEnd);
    const audio = new Int16Array(heard.reduce((n, f) => n + f.pcm.length, 0));
    let offset = 0;
    for (const frame of heard) {
      audio.set(frame.pcm, offset);
      offset += frame.pcm.length;
    }
    const result: Utterance = {
      startMs: Math.round(utterance.startMs),
      announcedAt: utterance.startMs,
      endMs: Math.round(utterance.lastVoiceEnd),
      audio,
    };
    if (utterance.interruptAt !== undefined) {
      result.bargeIn = {
        afterMs: Math.round(utterance.interruptAt - utterance.startMs),
        clearedAfterMs:
          utterance.clearedAt !== undefined ? Math.round(utterance.clearedAt - utterance.interruptAt) : null,
      };
    }
    this.options.events.utterance(result);
  }

  /** Echoes a mark once the audio buffered before it has played. */
  private mark(name: string) {
    const wait = this.playhead - this.now();
    if (wait <= 0) {
      this.echoMark(name);
      return;
    }
    const entry = { name, timer: setTimeout(() => this.echoMark(name, entry), wait) };
    this.marks.push(entry);
  }

  private echoMark(name: string, entry?: { name: string; timer: NodeJS.Timeout }) {
    if (entry) this.marks = this.marks.filter((m) => m !== entry);
    if (!this.open) return;
    this.send({
      event: "mark",
      sequenceNumber: String(++this.sequence),
      streamSid: this.streamSid,
      mark: { name },
    });
  }

  /** Barge-in: drops the audio not played yet, and sends back the marks waiting on it, as Twilio does. */
  private clear() {
    const now = this.now();
    this.playhead = Math.min(this.playhead, now);
    const utterance = this.utterance;
    if (utterance && utterance.startMs >= now) {
      // Cleared before a word of it played: the caller heard nothing.
      clearTimeout(utterance.endTimer);
      clearTimeout(utterance.interruptTimer);
      this.utterance = undefined;
      this.options.events.unheard(utterance.startMs);
    } else if (utterance) {
      utterance.frames = utterance.frames.filter((f) => f.at < now);
      utterance.lastVoiceEnd = Math.min(utterance.lastVoiceEnd, now);
      if (utterance.clearedAt === undefined) utterance.clearedAt = now;
      this.scheduleEnd(utterance);
    }
    const waiting = this.marks;
    this.marks = [];
    for (const mark of waiting) {
      clearTimeout(mark.timer);
      this.echoMark(mark.name);
    }
  }
}

const SILENT_FRAME = Buffer.alloc(FRAME_SAMPLES, MULAW_SILENCE);

function padded(piece: Int16Array) {
  const frame = new Int16Array(FRAME_SAMPLES);
  frame.set(piece);
  return frame;
}

function snippet(text: string) {
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}
