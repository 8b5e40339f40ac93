// What a voice session needs on loopback, for the dashboard's tests: the API's own demo Media Streams bot (flite
// speech, as `pnpm dev` runs it), and a stand-in for the OpenAI-compatible speech-to-text endpoint that Mimic hears
// the bot through. The bot only ever says one line, so the stand-in can answer every recording with it: the
// transcript then reads as the call went, and every timing, audio clip and finding is the engine's real one.
import http from "node:http";
import type { AddressInfo } from "node:net";
// Not in @mimic/api's exports (a demo, not an API): reached by path, typed through the project reference.
import { startVoiceBot, type VoiceBot, type VoiceBotOptions } from "../../api/src/demo/voice-bot.js";

export const BOT_LINE = "Your parcel is on its way and arrives on Thursday.";

export interface SttStandIn {
  /** Base URL for MIMIC_STT_BASE_URL: http://127.0.0.1:PORT/v1 */
  url: string;
  /** Transcriptions asked for so far. */
  requests: number;
  close(): Promise<void>;
}

/** `POST /v1/audio/transcriptions` answering `{"text": BOT_LINE}` whatever the audio. */
export async function startSttStandIn(): Promise<SttStandIn> {
  const stt = { requests: 0 } as SttStandIn;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/audio/transcriptions") {
        res.writeHead(404).end();
        return;
      }
      stt.requests++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ text: BOT_LINE }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  stt.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  stt.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return stt;
}

/** The demo voice bot answering every persona utterance with BOT_LINE (it needs no transcript to do that). */
export function startLineBot(
  options: Partial<Omit<VoiceBotOptions, "transcriber" | "reply">> = {},
): Promise<VoiceBot> {
  return startVoiceBot({
    ...options,
    transcriber: { transcribe: async () => "(the persona)" },
    reply: () => BOT_LINE,
  });
}

/** The settings that let the API call voice agents through the stand-in. */
export const voiceEnv = (stt: SttStandIn) => ({
  MIMIC_STT_BASE_URL: stt.url,
  MIMIC_STT_API_KEY: "stt-test-key",
  MIMIC_STT_MODEL: "whisper-test",
  MIMIC_VOICE_SILENCE_MS: "500",
  MIMIC_AGENT_TIMEOUT_MS: "15000",
});
