import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { llmAvailability } from "../../src/lib/checks.js";

describe("voice configuration", () => {
  it("has no STT or TTS endpoint by default (flite speaks offline), and ends bot utterances after 800 ms", () => {
    const config = loadConfig({});
    expect(config.voice).toEqual({ stt: undefined, tts: undefined, silenceMs: 800 });
    expect(llmAvailability(config).sttConfigured).toBe(false);
  });

  it("reads the STT endpoint with its defaults", () => {
    const config = loadConfig({ MIMIC_STT_BASE_URL: "http://127.0.0.1:8000/v1" });
    expect(config.voice.stt).toEqual({
      baseURL: "http://127.0.0.1:8000/v1",
      apiKey: "not-needed",
      model: "whisper-1",
      timeoutMs: 30_000,
    });
    expect(config.voice.tts).toBeUndefined();
    expect(llmAvailability(config).sttConfigured).toBe(true);
  });

  it("reads every variable", () => {
    const config = loadConfig({
      MIMIC_STT_BASE_URL: "https://api.openai.com/v1",
      MIMIC_STT_API_KEY: "sk-stt",
      MIMIC_STT_MODEL: "gpt-4o-mini-transcribe",
      MIMIC_STT_TIMEOUT_MS: "12000",
      MIMIC_TTS_BASE_URL: "https://tts.example.com/v1",
      MIMIC_TTS_API_KEY: "sk-tts",
      MIMIC_TTS_MODEL: "tts-1-hd",
      MIMIC_TTS_VOICE: "nova",
      MIMIC_TTS_TIMEOUT_MS: "9000",
      MIMIC_VOICE_SILENCE_MS: "600",
    });
    expect(config.voice).toEqual({
      stt: {
        baseURL: "https://api.openai.com/v1",
        apiKey: "sk-stt",
        model: "gpt-4o-mini-transcribe",
        timeoutMs: 12_000,
      },
      tts: {
        baseURL: "https://tts.example.com/v1",
        apiKey: "sk-tts",
        model: "tts-1-hd",
        voice: "nova",
        timeoutMs: 9000,
      },
      silenceMs: 600,
    });
  });

  it("defaults the TTS model and voice", () => {
    expect(loadConfig({ MIMIC_TTS_BASE_URL: "http://127.0.0.1:8880/v1" }).voice.tts).toEqual({
      baseURL: "http://127.0.0.1:8880/v1",
      apiKey: "not-needed",
      model: "tts-1",
      voice: "alloy",
      timeoutMs: 30_000,
    });
  });

  it("lists bad values without echoing the keys", () => {
    let error: unknown;
    try {
      loadConfig({
        MIMIC_STT_BASE_URL: "ftp://stt.example.com",
        MIMIC_TTS_BASE_URL: "tts.example.com/v1",
        MIMIC_STT_TIMEOUT_MS: "soon",
        MIMIC_VOICE_SILENCE_MS: "-5",
        MIMIC_STT_API_KEY: "sk-secret-stt-key",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    for (const name of [
      "MIMIC_STT_BASE_URL",
      "MIMIC_TTS_BASE_URL",
      "MIMIC_STT_TIMEOUT_MS",
      "MIMIC_VOICE_SILENCE_MS",
    ])
      expect(problems).toContain(name);
    expect(problems).not.toContain("sk-secret-stt-key");
  });
});
