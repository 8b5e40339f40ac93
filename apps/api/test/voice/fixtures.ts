// Shared by the voice end-to-end tests: an app with the real engine, a local OpenAI-compatible STT server that knows
// every phrase the tests say, and the demo voice bot (test/support/voice-bot.ts) on loopback.
import type { VoiceMessageMeta } from "@mimic/db";
import { afterAll, beforeAll, expect } from "vitest";
import { INTERJECTION } from "../../src/channels/voice/adapter.js";
import { createAgent, ENGINE_ENV, waitForEnd } from "../engine/fixtures.js";
import { createTestApp, registerUser, type TestContext, type TestUser } from "../helpers.js";
import { type SttServer, startSttServer } from "../support/stt-server.js";
import { startVoiceBot, type VoiceBot } from "../support/voice-bot.js";

export const GREETING = "Thanks for calling ShopCo. How can I help?";
export const LINES = [
  "Hello, my parcel is late.",
  "The order number is four five six.",
  "Thank you, goodbye.",
];
export const DIGITS_LINE = "Here is my account number.";
export const REPLIES: Record<string, string> = {
  [LINES[0]!]: "Sorry about that. What is your order number?",
  [LINES[1]!]: "Order four five six arrives on Thursday.",
  [LINES[2]!]: "You are welcome. Goodbye.",
  [DIGITS_LINE]: "Thank you. One moment please.",
};
export const LONG_REPLY =
  "Let me read you our full delivery policy. Parcels ship within two working days, and arrive three to five days later, weather permitting.";
export const reply = (heard: string) => REPLIES[heard] ?? (heard ? LONG_REPLY : undefined);

export type Msg = {
  id: string;
  senderType: string;
  content: string;
  latencyMs: number | null;
  metadata?: { voice?: VoiceMessageMeta };
};

/** A Media Streams message as the bot received it. */
export interface Frame {
  event: string;
  sequenceNumber?: string;
  streamSid?: string;
  start?: Record<string, unknown>;
  media?: { track: string; chunk: string; timestamp: string; payload: string };
  stop?: Record<string, string>;
}

export interface VoiceHarness {
  ctx: TestContext;
  user: TestUser;
  stt: SttServer;
}

/** Registers the app, STT server and bots of one test file (started before its tests, closed after). */
export function voiceHarness() {
  const h = {} as VoiceHarness;
  const bots: VoiceBot[] = [];
  beforeAll(async () => {
    h.stt = await startSttServer({
      phrases: [GREETING, ...LINES, ...Object.values(REPLIES), LONG_REPLY, INTERJECTION, DIGITS_LINE],
    });
    h.ctx = await createTestApp(
      {
        ...ENGINE_ENV,
        MIMIC_AGENT_TIMEOUT_MS: "15000",
        MIMIC_STT_BASE_URL: h.stt.url,
        MIMIC_STT_API_KEY: "stt-key-0001",
        MIMIC_STT_MODEL: "whisper-test",
        MIMIC_VOICE_SILENCE_MS: "500",
      },
      { engine: true },
    );
    h.user = await registerUser(h.ctx.app);
  }, 30_000);
  afterAll(async () => {
    await h.ctx.close();
    await Promise.all(bots.map((b) => b.close()));
    await h.stt.close();
  });

  async function bot(options: Partial<Parameters<typeof startVoiceBot>[0]> = {}) {
    const started = await startVoiceBot({ stt: h.stt.url, reply, ...options });
    bots.push(started);
    return started;
  }

  async function voiceAgent(url: string, extra: Record<string, unknown> = {}) {
    return createAgent(h.ctx.app, h.user, { url, ...extra }, "voice");
  }

  const framesOf = (call: VoiceBot["calls"][number]) => call.events.map((e) => e.message as unknown as Frame);

  async function transcript(sessionId: string): Promise<Msg[]> {
    const res = await h.ctx.app.inject({
      method: "GET",
      url: `/api/sessions/${sessionId}/messages?limit=100`,
      headers: h.user.headers,
    });
    expect(res.statusCode, res.body).toBe(200);
    return (res.json() as { data: Msg[] }).data;
  }

  async function verdict(sessionId: string) {
    const res = await h.ctx.app.inject({
      method: "GET",
      url: `/api/sessions/${sessionId}`,
      headers: h.user.headers,
    });
    return res.json() as {
      status: string;
      result: { passed: boolean; checks: { type: string; status: string; detail: string }[] } | null;
    };
  }

  async function waitForVerdict(sessionId: string) {
    await waitForEnd(h.ctx.app, h.user, sessionId, 60_000);
    await expect.poll(async () => (await verdict(sessionId)).result, { timeout: 10_000 }).not.toBeNull();
    return verdict(sessionId);
  }

  return { h, bot, voiceAgent, transcript, verdict, waitForVerdict, framesOf };
}
