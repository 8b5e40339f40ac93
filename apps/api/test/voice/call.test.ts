// What a voice bot does on the call: marks, barge-in and clear, DTMF and silent persona turns.
import { describe, expect, it } from "vitest";
import { pcmFromWav } from "../../src/channels/voice/audio.js";
import { createPersona, startSession } from "../engine/fixtures.js";
import type { VoiceBot } from "../support/voice-bot.js";
import { DIGITS_LINE, LINES, LONG_REPLY, REPLIES, voiceHarness } from "./fixtures.js";

const { h, bot, voiceAgent, transcript, waitForVerdict, framesOf } = voiceHarness();

describe("what a voice bot does on the call", () => {
  it("gets its marks back once the audio before them has played", async () => {
    const voiceBot = await bot({ mark: true });
    const persona = await createPersona(h.ctx.app, h.user, { goal: null, script: [LINES[0]] });
    const agent = await voiceAgent(voiceBot.url);
    const created = await startSession(h.ctx.app, h.user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 2, messageInterval: 0.2, replyTimeout: 8 },
    });
    await waitForVerdict(created.id);
    const call = voiceBot.calls[0]!;
    const said = call.said[0]!;
    expect(said.text).toBe(REPLIES[LINES[0]!]);
    // The bot sent its whole reply at once, then the mark: Mimic plays it in real time and only then answers.
    const audio = await h.ctx.app.inject({
      method: "GET",
      url: `/api/sessions/${created.id}/messages/${(await transcript(created.id))[1]!.id}/audio`,
      headers: h.user.headers,
    });
    const spoken = pcmFromWav(audio.rawPayload).pcm.length / 8;
    expect(call.marksReturned.map((m) => m.name)).toEqual(["reply-1"]);
    expect(call.marksReturned[0]!.at - said.at).toBeGreaterThanOrEqual(spoken - 20);
    expect(call.marksReturned[0]!.at - said.at).toBeLessThan(spoken + 1500);
    const echoed = framesOf(call).find((m) => m.event === "mark")!;
    expect(echoed).toMatchObject({ streamSid: call.streamSid, mark: { name: "reply-1" } });
    expect(Number(echoed.sequenceNumber)).toBeGreaterThan(1);
  }, 60_000);

  it("barges in after interruptAfterMs: a bot that clears is cut off, one that keeps talking is caught", async () => {
    const polite = await bot({ mark: true });
    const rude = await bot({ onBargeIn: "ignore" });
    const persona = await createPersona(h.ctx.app, h.user, {
      goal: null,
      script: ["Tell me your delivery policy."],
      config: { voice: { interruptAfterMs: 1000 } },
    });
    await h.stt.learn("Tell me your delivery policy.");
    const run = async (voiceBot: VoiceBot) => {
      const agent = await voiceAgent(voiceBot.url);
      const created = await startSession(h.ctx.app, h.user, {
        agentId: agent.id,
        personaId: persona.id,
        config: { maxMessages: 2, messageInterval: 0.2, replyTimeout: 20 },
      });
      await waitForVerdict(created.id);
      return (await transcript(created.id)).filter((m) => m.senderType === "agent")[0]!;
    };
    const [cut, talked] = await Promise.all([run(polite), run(rude)]);

    // The polite bot heard the interjection and cleared its buffered audio: the utterance stops short.
    const bargeIn = cut.metadata.voice.bargeIn!;
    expect(bargeIn.afterMs).toBeGreaterThanOrEqual(990); // timers may fire a millisecond early
    expect(bargeIn.afterMs).toBeLessThan(1600);
    expect(bargeIn.clearedAfterMs).not.toBeNull();
    expect(bargeIn.clearedAfterMs!).toBeLessThan(2500);
    const cutVoice = cut.metadata.voice!;
    expect(cutVoice.endMs! - cutVoice.startMs!).toBeLessThan(bargeIn.afterMs + bargeIn.clearedAfterMs! + 100);
    expect(polite.calls[0].said[0]!.cleared).toBe(true);
    // Twilio returns the marks of cleared audio at once.
    expect(polite.calls[0]!.marksReturned.map((m) => m.name)).toContain("reply-1");
    // The transcription is of what was heard: the first words of the long reply, not all of it.
    expect(LONG_REPLY.startsWith(cut.content.replace(/[.…]+$/, ""))).toBe(true);
    expect(cut.content.length).toBeLessThan(LONG_REPLY.length);

    // The rude bot never cleared: its whole reply played, and the barge-in records no clear.
    expect(talked.metadata.voice!.bargeIn).toMatchObject({ clearedAfterMs: null });
    expect(talked.content).toBe(LONG_REPLY);
  }, 60_000);

  it("presses DTMF keys, stays silent when told to, and measures the dead air", async () => {
    const voiceBot = await bot();
    const persona = await createPersona(h.ctx.app, h.user, {
      goal: null,
      script: [`${DIGITS_LINE} [dtmf 4521#]`, "[silence]"],
    });
    const agent = await voiceAgent(voiceBot.url);
    const created = await startSession(h.ctx.app, h.user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 4, messageInterval: 0.2, replyTimeout: 2, duration: 60 },
      checks: [{ type: "no_long_silence", ms: 1500 }],
    });
    const ended = await waitForVerdict(created.id);
    const call = voiceBot.calls[0]!;
    expect(call.dtmf).toBe("4521#");
    const dtmf = framesOf(call).filter((m) => m.event === "dtmf") as unknown as {
      streamSid: string;
      dtmf: { track: string; digit: string };
    }[];
    expect(dtmf.map((m) => m.dtmf)).toEqual([..."4521#"].map((digit) => ({ track: "inbound_track", digit })));
    expect(dtmf.every((m) => m.streamSid === call.streamSid)).toBe(true);
    expect(call.heard).toEqual([DIGITS_LINE]);
    const messages = await transcript(created.id);
    const persona1 = messages.find((m) => m.senderType === "persona")!;
    expect(persona1.metadata!.voice).toMatchObject({ dtmf: "4521#", audio: true });
    const exported = await h.ctx.app.inject({
      method: "GET",
      url: `/api/sessions/${created.id}/export?format=markdown`,
      headers: h.user.headers,
    });
    expect(exported.body).toContain("pressed 4521#");
    expect(exported.body).toContain("stayed silent");
    const silent = messages.filter((m) => m.senderType === "persona")[1]!;
    expect(silent.metadata!.voice).toMatchObject({ silent: true, audio: false });
    expect(silent.metadata.voice!.startMs).toBe(silent.metadata.voice!.endMs);
    // The bot answered the digits, then nobody spoke after the silent turn until the reply timeout: dead air the
    // check catches.
    expect(messages.map((m) => m.senderType)).toEqual(["persona", "agent", "persona", "system", "persona"]);
    const check = ended.result.checks.find((c) => c.type === "no_long_silence")!;
    expect(check.status, check.detail).toBe("failed");
  }, 60_000);
});
