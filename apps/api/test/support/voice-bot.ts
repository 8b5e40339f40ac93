// The demo voice bot (src/demo/voice-bot.ts) as the tests run it: on loopback, hearing through a given STT server,
// keeping every frame it receives.

import { createOpenAITranscriber } from "../../src/channels/voice/stt.js";
import { startVoiceBot as startDemoVoiceBot, type VoiceBotOptions } from "../../src/demo/voice-bot.js";

export {
  defaultReply,
  type TwilioFrame,
  type VoiceBot,
  type VoiceBotCall,
  voiceBotPhrases,
} from "../../src/demo/voice-bot.js";

export function startVoiceBot(options: Omit<VoiceBotOptions, "transcriber" | "record"> & { stt: string }) {
  const { stt, ...rest } = options;
  const transcriber = createOpenAITranscriber({
    baseURL: stt,
    apiKey: "voice-bot",
    model: "whisper-1",
    timeoutMs: 5000,
    maxRetries: 0,
  });
  return startDemoVoiceBot({ ...rest, transcriber, record: true });
}
