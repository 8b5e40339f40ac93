// The voice agent adapter: one Media Streams call per session. The persona's lines are spoken (offline TTS by
// default), the bot's utterances are transcribed through the configured OpenAI-compatible STT endpoint and
// recorded as its replies, with the timings voice users care about: time to first audio, talk-over, barge-in.
import { setTimeout as delay } from "node:timers/promises";
import type { Database, PersonaVoiceConfig, VoiceMessageMeta } from "@mimic/db";
import type { AgentAdapter, DeliveryContext } from "../../engine/agents/types.js";
import { OutboundError } from "../../engine/outbound.js";
import { extendReplyWindow } from "../../engine/session-store.js";
import { wavFromPcm } from "./audio.js";
import { MediaStreamCall, type Utterance } from "./call.js";
import { describePersonaTurn, recordCallEvent, recordUtterance } from "./store.js";
import type { Transcriber } from "./stt.js";
import type { SpeechSynthesizer } from "./tts.js";
import { createVad, type Vad } from "./vad.js";

/** What the persona says when it barges in (`interruptAfterMs`). */
export const INTERJECTION = "Sorry, can I stop you there?";

/** The longest a persona waits for the bot to stop talking before it speaks anyway. */
const QUIET_WAIT_MS = 15_000;

export interface VoiceAdapterOptions {
  db: Database;
  speech: SpeechSynthesizer;
  /** Undefined when no STT endpoint is configured: voice sessions then fail at once with a clear reason. */
  transcriber: Transcriber | undefined;
  silenceMs: number;
  log: (msg: string) => void;
}

interface PersonaTurn {
  startMs: number;
  endMs: number;
  answered: boolean;
}

interface CallState {
  call: MediaStreamCall;
  ready: Promise<void>;
  vad: Vad;
  voice: string | undefined;
  /** The persona's last turn on this call, and whether the bot has started answering it. */
  lastPersona?: PersonaTurn;
  /** Bot utterances under way that answer a persona turn (by their start), settled once recorded. */
  answering: Map<number, { turn: PersonaTurn; recorded: Promise<void>; settle: () => void }>;
  /** Persona messages already said on this call (a redelivery is not said twice). */
  said: Set<string>;
  /** What the call writes, one after another, in the order it happened. */
  writing: Promise<void>;
  hungUp?: string;
  sttFailed?: boolean;
}

/** A persona line on a call: `[dtmf 12#]` presses keys, a line that is only `[silence]` says nothing. */
export function parseLine(content: string): { text: string; dtmf: string; silent: boolean } {
  let dtmf = "";
  const text = content
    .replace(/\[dtmf\s+([0-9*#A-D]+)\]/gi, (_, digits: string) => {
      dtmf += digits.toUpperCase();
      return " ";
    })
    .replace(/\s+/g, " ")
    .trim();
  const silent = /^\[silence\]$/i.test(text);
  return { text: silent ? "" : text, dtmf, silent };
}

export function createVoiceAdapter(options: VoiceAdapterOptions): AgentAdapter {
  const { db, speech, log } = options;
  const calls = new Map<string, CallState>();

  const write = (state: CallState, sessionId: string, work: () => Promise<unknown>) => {
    state.writing = state.writing
      .then(work)
      .then(() => undefined)
      .catch((error: Error) => log(`voice session ${sessionId}: recording failed: ${error.message}`));
  };

  async function heard(sessionId: string, state: CallState, utterance: Utterance) {
    let content: string;
    try {
      content = (await options.transcriber!.transcribe(wavFromPcm(utterance.audio))).trim() || "(inaudible)";
    } catch (error) {
      content = "(not transcribed)";
      if (!state.sttFailed) {
        state.sttFailed = true;
        await recordCallEvent(db, sessionId, `Speech-to-text failed: ${(error as Error).message}`);
      }
    }
    const meta: VoiceMessageMeta = { startMs: utterance.startMs, endMs: utterance.endMs };
    // Which persona turn it answers was decided when the bot began to speak.
    const answer = state.answering.get(utterance.announcedAt);
    const persona = answer?.turn;
    if (persona) {
      meta.firstAudioMs = utterance.startMs - persona.endMs;
      if (utterance.startMs < persona.endMs) meta.talkOver = true;
    }
    if (utterance.bargeIn) meta.bargeIn = utterance.bargeIn;
    try {
      await recordUtterance(db, sessionId, {
        content,
        meta,
        timestamp: state.call.at(utterance.startMs),
        latencyMs: persona ? Math.max(0, meta.firstAudioMs!) : undefined,
        audio: utterance.audio,
      });
    } finally {
      settle(state, utterance.announcedAt);
    }
  }

  /** The bot began to speak: its first utterance since the persona began its turn answers that turn. */
  function speaking(sessionId: string, state: CallState, startMs: number) {
    const turn = state.lastPersona;
    if (!turn || turn.answered || startMs < turn.startMs) return;
    turn.answered = true;
    let settleIt = () => {};
    const recorded = new Promise<void>((resolve) => {
      settleIt = resolve;
    });
    state.answering.set(startMs, { turn, recorded, settle: settleIt });
    void extendReplyWindow(db, sessionId).catch((error: Error) =>
      log(`voice session ${sessionId}: extending the reply window failed: ${error.message}`),
    );
  }

  function settle(state: CallState, startMs: number) {
    state.answering.get(startMs)?.settle();
    state.answering.delete(startMs);
  }

  async function dial(context: Omit<DeliveryContext, "message">): Promise<CallState> {
    const { sessionId, agent } = context;
    const existing = calls.get(sessionId);
    if (existing) {
      await existing.ready;
      return existing;
    }
    if (agent.type !== "voice") throw new OutboundError(`a ${agent.type} agent is not a voice agent`, false);
    if (!options.transcriber) {
      throw new OutboundError(
        "voice sessions need a speech-to-text endpoint: set MIMIC_STT_BASE_URL, MIMIC_STT_API_KEY and MIMIC_STT_MODEL",
        false,
      );
    }
    if (!agent.config.url) throw new OutboundError("the voice agent has no url to call", false);
    const persona: PersonaVoiceConfig = context.persona.voice ?? {};
    const interjection =
      persona.interruptAfterMs !== undefined
        ? await speech.synthesize(INTERJECTION, persona.voice).catch((error: Error) => {
            throw new OutboundError(`speech synthesis failed: ${error.message}`, true);
          })
        : undefined;
    const headers: Record<string, string> = { "x-mimic-session-id": sessionId };
    if (agent.config.api_key) headers.authorization = `Bearer ${agent.config.api_key}`;
    const vad = await createVad();
    const state = {
      vad,
      voice: persona.voice,
      said: new Set<string>(),
      answering: new Map(),
      writing: Promise.resolve(),
    } as CallState;
    state.call = new MediaStreamCall({
      url: new URL(agent.config.url),
      headers,
      customParameters: agent.config.custom_parameters ?? {},
      policy: context.policy,
      silenceMs: options.silenceMs,
      vad,
      interruptAfterMs: persona.interruptAfterMs,
      interjection,
      events: {
        speaking: (startMs) => speaking(sessionId, state, startMs),
        utterance: (utterance) => write(state, sessionId, () => heard(sessionId, state, utterance)),
        unheard: (startMs) => settle(state, startMs),
        finding: (kind, detail) =>
          write(state, sessionId, () => recordCallEvent(db, sessionId, detail, kind)),
        hangup: (code, reason) => {
          state.hungUp = `WebSocket closed with ${code}${reason ? ` (${reason.slice(0, 120)})` : ""}`;
          write(state, sessionId, () => recordCallEvent(db, sessionId, `The bot hung up: ${state.hungUp}.`));
        },
      },
    });
    state.ready = state.call.connect();
    calls.set(sessionId, state);
    try {
      await state.ready;
    } catch (error) {
      calls.delete(sessionId);
      vad.free();
      throw error;
    }
    return state;
  }

  function hangUp(sessionId: string) {
    const state = calls.get(sessionId);
    if (!state) return;
    calls.delete(sessionId);
    state.call.hangUp();
    // Utterances still being transcribed finish before the detector goes.
    void state.writing.finally(() => state.vad.free());
  }

  return {
    async open(context) {
      await dial(context);
    },
    async deliver(context) {
      const state = await dial(context);
      const { call } = state;
      if (state.hungUp) throw new OutboundError(`the bot hung up the call: ${state.hungUp}`, false);
      if (state.said.has(context.message.id)) return { replies: [], open: true };
      const line = parseLine(context.message.content);
      let audio: Int16Array = new Int16Array(0);
      if (line.text) {
        try {
          audio = await speech.synthesize(line.text, state.voice);
        } catch (error) {
          throw new OutboundError(`speech synthesis failed: ${(error as Error).message}`, true);
        }
      }
      await call.quiet(QUIET_WAIT_MS);
      const spoken = call.speak(audio);
      // The turn is known before it is said: a bot that answers early is measured against it.
      const turn = { startMs: spoken.startMs, endMs: spoken.endMs, answered: false };
      state.lastPersona = turn;
      await spoken.done;
      if (line.dtmf) {
        turn.endMs = call.dtmfEnd(line.dtmf);
        await call.dtmf(line.dtmf);
      }
      // The bot answered before the turn was over (while keys were pressed): the turn is delivered with its answer.
      const early = [...state.answering.values()].find((a) => a.turn === turn);
      if (early) await Promise.race([early.recorded, delay(QUIET_WAIT_MS, undefined, { ref: false })]);
      state.said.add(context.message.id);
      const meta: VoiceMessageMeta = { startMs: turn.startMs, endMs: turn.endMs };
      if (line.dtmf) meta.dtmf = line.dtmf;
      if (line.silent) meta.silent = true;
      write(state, context.sessionId, () =>
        describePersonaTurn(db, context.sessionId, context.message.id, meta, audio),
      );
      if (!call.open && state.hungUp)
        throw new OutboundError(`the bot hung up the call: ${state.hungUp}`, false);
      return { replies: [], open: true };
    },
    async close(sessionId) {
      hangUp(sessionId);
    },
    held() {
      return [...calls.keys()];
    },
    async shutdown() {
      for (const sessionId of [...calls.keys()]) hangUp(sessionId);
      await speech.close();
    },
  };
}
