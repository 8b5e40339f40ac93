// Hearing the agent: each agent turn's audio goes as a WAV to an OpenAI-compatible transcription endpoint.
import { toFile } from "openai";
import { OutboundError } from "../../engine/outbound.js";
import { type AudioEndpoint, endpointClient, endpointError } from "./tts.js";

export interface Transcriber {
  /** The text, trimmed. */
  transcribe(wav: Buffer): Promise<string>;
}

/**
 * `POST {baseURL}/audio/transcriptions` (baseURL ending in /v1). Failures throw the engine's OutboundError:
 * "STT endpoint failed: HTTP 401 (…)", retryable on network trouble, 429 and 5xx; the API key never appears.
 */
export function createOpenAITranscriber(options: AudioEndpoint): Transcriber {
  const client = endpointClient(options);
  return {
    async transcribe(wav) {
      let text: unknown;
      try {
        const result = await client.audio.transcriptions.create({
          file: await toFile(wav, "turn.wav", { type: "audio/wav" }),
          model: options.model,
        });
        text = (result as { text?: unknown }).text;
      } catch (error) {
        throw endpointError("STT", error, options.apiKey);
      }
      if (typeof text !== "string")
        throw new OutboundError("STT endpoint failed: the answer has no text", false);
      return text.trim();
    },
  };
}
