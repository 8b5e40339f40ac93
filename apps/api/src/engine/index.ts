// Wires the engine's parts from the config: agent adapters, persona providers and the runner.
import { FINISHED_SESSION_STATUSES, type MimicDb } from "@mimic/db";
import type { FastifyBaseLogger } from "fastify";
import { createVoiceAdapter } from "../channels/voice/adapter.js";
import { createOpenAITranscriber } from "../channels/voice/stt.js";
import { createFliteSynthesizer, createOpenAISpeech } from "../channels/voice/tts.js";
import { createWhatsappAdapter } from "../channels/whatsapp/adapter.js";
import type { Config } from "../config.js";
import type { AgentAdapter } from "./agents/types.js";
import { webhookAdapter } from "./agents/webhook.js";
import { createWebsocketAdapter } from "./agents/websocket.js";
import type { EventHub } from "./events.js";
import type { OutboundPolicy } from "./outbound.js";
import { createOpenAIJudge, createOpenAIPersona } from "./persona/openai.js";
import { scriptedPersona } from "./persona/scripted.js";
import { Runner } from "./runner.js";
import { recordLive } from "./session-store.js";

/** Largest agent response Mimic reads (replies are untrusted input). */
const MAX_RESPONSE_BYTES = 256 * 1024;

export function outboundPolicy(config: Config): OutboundPolicy {
  return {
    allowPrivateTargets: config.allowPrivateTargets,
    connectTimeoutMs: Math.min(config.engine.agentConnectTimeoutMs, config.engine.agentTimeoutMs),
    timeoutMs: config.engine.agentTimeoutMs,
    maxResponseBytes: MAX_RESPONSE_BYTES,
  };
}

export function createRunner(db: MimicDb, config: Config, log: FastifyBaseLogger, hub: EventHub): Runner {
  const websocket = createWebsocketAdapter(
    // Frames after the session ended, or past its message limit, are dropped.
    async (sessionId, content) => {
      await recordLive(db.db, sessionId, { senderType: "agent", content });
    },
    (msg) => log.warn(msg),
  );
  const adapters: Partial<Record<string, AgentAdapter>> = {
    webhook: webhookAdapter,
    websocket,
    whatsapp: createWhatsappAdapter(db.db, log),
    voice: createVoiceAdapter({
      db: db.db,
      // Offline flite unless an OpenAI-compatible speech endpoint is configured; its worker starts on first use.
      speech: config.voice.tts ? createOpenAISpeech(config.voice.tts) : createFliteSynthesizer(),
      transcriber: config.voice.stt ? createOpenAITranscriber(config.voice.stt) : undefined,
      silenceMs: config.voice.silenceMs,
      log: (msg) => log.warn(msg),
    }),
  };
  // Whoever ends a session — this worker, another one, a stop through the API, a deleted persona or agent — its
  // end reaches every process as an event: connections held for it close here too. The runner's sweep covers
  // events missed while the listener was down.
  hub.subscribeAll((event) => {
    const ended =
      event.type === "session_end" ||
      (event.type === "session_update" &&
        (FINISHED_SESSION_STATUSES as readonly string[]).includes(event.data.status));
    if (ended) for (const adapter of Object.values(adapters)) void adapter?.close?.(event.sessionId);
  });
  const llm = config.llm.baseUrl
    ? {
        baseURL: config.llm.baseUrl,
        apiKey: config.llm.apiKey,
        model: config.llm.model,
        timeoutMs: config.llm.timeoutMs,
        maxRetries: 1,
      }
    : undefined;
  const openai = llm ? createOpenAIPersona(llm) : undefined;
  const judge = llm ? createOpenAIJudge(llm) : undefined;
  return new Runner({
    db,
    adapters,
    personas: { scripted: scriptedPersona, openai },
    judge,
    policy: outboundPolicy(config),
    log,
    concurrency: config.engine.concurrency,
    userConcurrency: config.engine.userConcurrency,
    pollIntervalMs: config.engine.pollIntervalMs,
    leaseMs: config.engine.leaseMs,
    maxAttempts: config.engine.maxAttempts,
  });
}

/** Agent types the engine can run today. */
export const RUNNABLE_AGENT_TYPES = ["webhook", "websocket", "whatsapp", "voice"] as const;
