// Voice bots that break the Media Streams protocol (findings in the transcript, voice_valid fails) or hang up.
import { describe, expect, it } from "vitest";
import { createPersona, startSession } from "../engine/fixtures.js";
import { LINES, voiceHarness } from "./fixtures.js";

const { h, bot, voiceAgent, transcript, waitForVerdict } = voiceHarness();

describe("voice bots that break the protocol", () => {
  it("records each kind of trouble as a finding and fails voice_valid", async () => {
    const cases = {
      wrong_format: await bot({ format: "pcm16" }),
      wrong_stream: await bot({ streamSid: "wrong" }),
      bad_frame: await bot({ badFrames: true }),
    };
    const persona = await createPersona(h.ctx.app, h.user, { goal: null, script: [LINES[0]] });
    const results = await Promise.all(
      Object.entries(cases).map(async ([kind, voiceBot]) => {
        const agent = await voiceAgent(voiceBot.url);
        const created = await startSession(h.ctx.app, h.user, {
          agentId: agent.id,
          personaId: persona.id,
          config: { maxMessages: 2, messageInterval: 0.2, replyTimeout: 3 },
        });
        const ended = await waitForVerdict(created.id);
        return { kind, ended, messages: await transcript(created.id) };
      }),
    );
    for (const { kind, ended, messages } of results) {
      const findings = messages.filter((m) => m.metadata?.voice?.finding);
      expect(
        findings.map((m) => m.metadata.voice!.finding),
        kind,
      ).toContain(kind);
      expect(findings.every((m) => m.senderType === "system")).toBe(true);
      const check = ended.result.checks.find((c) => c.type === "voice_valid")!;
      expect(check.status, `${kind}: ${check.detail}`).toBe("failed");
      expect(check.detail).toContain(kind);
      expect(ended.result!.passed).toBe(false);
    }
    // A bot whose frames name another stream is not heard at all.
    const wrongStream = results.find((r) => r.kind === "wrong_stream")!;
    expect(wrongStream.messages.filter((m) => m.senderType === "agent")).toEqual([]);
  }, 60_000);

  it("fails the session when the bot hangs up while the persona still has something to say", async () => {
    const voiceBot = await bot({ hangUpAfter: 1 });
    const persona = await createPersona(h.ctx.app, h.user, { goal: null, script: LINES });
    const agent = await voiceAgent(voiceBot.url);
    const created = await startSession(h.ctx.app, h.user, {
      agentId: agent.id,
      personaId: persona.id,
      config: { maxMessages: 6, messageInterval: 0.2, replyTimeout: 8 },
    });
    const ended = await waitForVerdict(created.id);
    expect(ended.status).toBe("failed");
    expect(ended.result!.passed).toBe(false);
    const messages = await transcript(created.id);
    expect(messages.map((m) => m.senderType)).toEqual(["persona", "agent", "system", "persona"]);
    expect(messages[2]!.content).toBe("The bot hung up: WebSocket closed with 1000 (goodbye).");
    const session = await h.ctx.app.inject({
      method: "GET",
      url: `/api/sessions/${created.id}`,
      headers: h.user.headers,
    });
    expect(session.json()).toMatchObject({
      endReason: "agent_error",
      reason: "agent unreachable: the bot hung up the call: WebSocket closed with 1000 (goodbye)",
    });
    expect(voiceBot.calls).toHaveLength(1);
  }, 60_000);
});
