// The voice checks over seeded transcripts: what Mimic recorded of a call (messages with `metadata.voice`) is
// judged by voice_valid, first_audio_within and no_long_silence, each shown to pass and to fail.
import { randomUUID } from "node:crypto";
import { type MessageMetadata, messages, type SessionCheck, sessions } from "@mimic/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { computeVerdict, runCheck } from "../../src/engine/verdict.js";
import { agentDefaultChecks } from "../../src/lib/checks.js";
import { createAgent, createPersona } from "../engine/fixtures.js";
import { createTestApp, registerUser, type TestContext } from "../helpers.js";

let ctx: TestContext;
let owner: { userId: string; agentId: string; personaId: string };

beforeAll(async () => {
  ctx = await createTestApp();
  const user = await registerUser(ctx.app);
  const persona = await createPersona(ctx.app, user);
  const agent = await createAgent(ctx.app, user, { url: "ws://bot.example.com/media" }, "voice");
  owner = { userId: user.id, agentId: agent.id, personaId: persona.id };
});
afterAll(() => ctx.close());

interface Row {
  sender: "persona" | "agent" | "system";
  content: string;
  voice?: NonNullable<MessageMetadata["voice"]>;
  metadata?: MessageMetadata;
}

/** A completed session with these messages, one second apart in transcript order. */
async function seed(rows: Row[], checks: SessionCheck[] = []) {
  const id = randomUUID();
  const start = Date.parse("2026-03-01T10:00:00Z");
  await ctx.db.db.insert(sessions).values({
    id,
    ...owner,
    config: { duration: 300, maxMessages: 50, messageInterval: 0, replyTimeout: 10 },
    status: "completed",
    endReason: "message_limit",
    reason: "message limit reached",
    checks,
    startedAt: new Date(start),
    endedAt: new Date(start + 60_000),
  });
  if (rows.length > 0)
    await ctx.db.db.insert(messages).values(
      rows.map((r, i) => ({
        id: randomUUID(),
        sessionId: id,
        senderType: r.sender,
        content: r.content,
        timestamp: new Date(start + i * 1000),
        metadata: r.metadata ?? (r.voice ? { voice: r.voice } : null),
      })),
    );
  const [session] = await ctx.db.db.select().from(sessions).where(eq(sessions.id, id));
  return session!;
}

async function check(rows: Row[], c: SessionCheck) {
  return runCheck(ctx.db.db, await seed(rows), c, undefined);
}

describe("voice_valid", () => {
  const call: Row[] = [
    { sender: "persona", content: "Hi, my parcel is late.", voice: { startMs: 0, endMs: 1800, audio: true } },
    {
      sender: "agent",
      content: "Sorry to hear that!",
      voice: { startMs: 2300, endMs: 4000, firstAudioMs: 500 },
    },
    // A system note about something else, and one of another channel: neither is a voice finding.
    { sender: "system", content: "The call was answered", voice: { startMs: 0, endMs: 0 } },
    { sender: "system", content: "Graph refused a call", metadata: { whatsapp: { type: "text" } } },
  ];

  it("passes when Mimic found nothing wrong in the bot's frames", async () => {
    expect(await check(call, { type: "voice_valid" })).toEqual({
      name: "the bot's Media Streams frames were valid",
      type: "voice_valid",
      status: "passed",
      passed: true,
      detail: "nothing wrong found in the bot's Media Streams frames",
    });
  });

  it("fails on system findings, counting them by kind and quoting the first", async () => {
    const result = await check(
      [
        ...call,
        {
          sender: "system",
          content: "The bot sent a media frame that is not base64: payload “%%%”",
          voice: { finding: "bad_frame" },
        },
        {
          sender: "system",
          content: "The bot sent audio/x-l16 at 16000 Hz; the call is audio/x-mulaw at 8000 Hz",
          voice: { finding: "wrong_format" },
        },
        { sender: "system", content: "Another frame that is not base64", voice: { finding: "bad_frame" } },
        // Only system messages carry findings.
        { sender: "agent", content: "Hello?", voice: { finding: "bad_frame" } },
      ],
      { type: "voice_valid" },
    );
    expect(result).toMatchObject({ status: "failed", passed: false });
    expect(result.detail).toBe(
      "3 findings (2 bad_frame, 1 wrong_format); first: bad_frame “The bot sent a media frame that is not base64: payload “%%%””",
    );
  });

  it("runs by default for voice agents only", () => {
    expect(agentDefaultChecks("voice")).toEqual([{ type: "voice_valid" }]);
    expect(agentDefaultChecks("websocket")).toEqual([]);
  });
});

describe("first_audio_within", () => {
  const turns = (firstAudio: (number | undefined)[]): Row[] =>
    firstAudio.flatMap((ms, i): Row[] => [
      {
        sender: "persona",
        content: `Question ${i + 1}`,
        voice: { startMs: i * 10_000, endMs: i * 10_000 + 2000 },
      },
      {
        sender: "agent",
        content: `Answer ${i + 1}`,
        voice:
          ms === undefined
            ? undefined
            : { startMs: i * 10_000 + 2000 + ms, endMs: i * 10_000 + 4000 + ms, firstAudioMs: ms },
      },
    ]);

  it("passes when every bot utterance starts in time, talking over included", async () => {
    const result = await check(turns([300, 640, -120]), { type: "first_audio_within", ms: 1000 });
    expect(result).toMatchObject({
      name: "the bot starts speaking within 1000 ms",
      status: "passed",
      detail: "slowest first audio 640 ms (3 utterances)",
    });
  });

  it("fails when one starts too late, saying how many of how many and the slowest", async () => {
    const result = await check(turns([300, 640, -120]), { type: "first_audio_within", ms: 500 });
    expect(result).toMatchObject({
      status: "failed",
      detail: "1 of 3 utterances started later than 500 ms after the persona (slowest 640 ms)",
    });
  });

  it("passes a bot that only ever talked over the persona", async () => {
    const result = await check(turns([-200]), { type: "first_audio_within", ms: 1 });
    expect(result).toMatchObject({ status: "passed", detail: "slowest first audio -200 ms (1 utterance)" });
  });

  it("fails when the bot never spoke (agent messages without first audio do not count)", async () => {
    const result = await check(turns([undefined, undefined]), { type: "first_audio_within", ms: 1000 });
    expect(result).toMatchObject({ status: "failed", detail: "the bot never spoke" });
  });
});

describe("no_long_silence", () => {
  // On the call's clock (ms): gaps after the persona count, gaps between bot utterances with no persona speech
  // between them count, the persona's own pause after the bot does not.
  const call: Row[] = [
    { sender: "persona", content: "Hi, my parcel is late.", voice: { startMs: 0, endMs: 2000 } },
    {
      sender: "agent",
      content: "Let me check that.",
      voice: { startMs: 2600, endMs: 5000, firstAudioMs: 600 },
    },
    // 1500 ms of the persona thinking: not the bot's dead air.
    { sender: "persona", content: "It's order 4242.", voice: { startMs: 6500, endMs: 8000 } },
    { sender: "agent", content: "One moment.", voice: { startMs: 8400, endMs: 9000, firstAudioMs: 400 } },
    // 3000 ms between two bot utterances.
    { sender: "agent", content: "It arrives Thursday.", voice: { startMs: 12_000, endMs: 13_000 } },
    // A silent persona turn: no speech, but the bot's re-prompt is waited for from here (4500 ms).
    { sender: "persona", content: "(silence)", voice: { startMs: 14_000, endMs: 14_000, silent: true } },
    {
      sender: "agent",
      content: "Are you still there?",
      voice: { startMs: 18_500, endMs: 19_500, firstAudioMs: 4500 },
    },
    // A bot that talks over the persona leaves no silence.
    { sender: "persona", content: "Yes, thanks, bye.", voice: { startMs: 20_000, endMs: 22_000 } },
    { sender: "agent", content: "Bye!", voice: { startMs: 21_500, endMs: 22_500, firstAudioMs: -500 } },
    // Messages without timing (a system note) are not speech.
    { sender: "system", content: "The bot hung up" },
  ];

  it("passes when no silence is longer than allowed, naming the longest", async () => {
    const result = await check(call, { type: "no_long_silence", ms: 5000 });
    expect(result).toEqual({
      name: "no silence longer than 5000 ms",
      type: "no_long_silence",
      status: "passed",
      passed: true,
      detail: "longest silence 4500 ms after persona message 3 “(silence)” (ended at 14.0 s)",
    });
  });

  it("fails on a longer silence, saying where the longest is", async () => {
    const result = await check(call, { type: "no_long_silence", ms: 4000 });
    expect(result).toMatchObject({
      status: "failed",
      detail:
        "1 silence longer than 4000 ms; longest 4500 ms after persona message 3 “(silence)” (ended at 14.0 s)",
    });
  });

  it("counts the gaps between bot utterances, but not the persona's pause after the bot", async () => {
    // Over 1000 ms: 3000 (bot → bot) and 4500 (silent persona → bot); the 1500 ms persona pause is not counted.
    const result = await check(call, { type: "no_long_silence", ms: 1000 });
    expect(result.status).toBe("failed");
    expect(result.detail).toMatch(
      /^2 silences longer than 1000 ms; longest 4500 ms after persona message 3 /,
    );
    const botToBot = await check(call.slice(0, 5), { type: "no_long_silence", ms: 2000 });
    expect(botToBot.detail).toBe(
      "1 silence longer than 2000 ms; longest 3000 ms after agent message 2 “One moment.” (ended at 9.0 s)",
    );
  });

  it("orders by the call's clock, not by when the messages were written", async () => {
    // The bot's utterance was recorded before the persona's, but the persona spoke first.
    const result = await check(
      [
        { sender: "agent", content: "Hello!", voice: { startMs: 9000, endMs: 10_000, firstAudioMs: 7000 } },
        { sender: "persona", content: "Hi?", voice: { startMs: 1000, endMs: 2000 } },
      ],
      { type: "no_long_silence", ms: 5000 },
    );
    expect(result).toMatchObject({
      status: "failed",
      detail: "1 silence longer than 5000 ms; longest 7000 ms after persona message 1 “Hi?” (ended at 2.0 s)",
    });
  });

  it("has nothing to measure on a call without timed speech", async () => {
    const result = await check([{ sender: "persona", content: "Hello?" }], {
      type: "no_long_silence",
      ms: 10,
    });
    expect(result).toMatchObject({ status: "passed", detail: "no silence to measure (0 timed utterances)" });
  });
});

describe("a voice session's verdict", () => {
  it("runs the voice checks with the others and fails on any of them", async () => {
    const session = await seed(
      [
        { sender: "persona", content: "Hi", voice: { startMs: 0, endMs: 1000 } },
        {
          sender: "agent",
          content: "Hello, how can I help?",
          voice: { startMs: 3500, endMs: 5000, firstAudioMs: 2500 },
        },
        { sender: "system", content: "A mark for an unknown name", voice: { finding: "mark_misuse" } },
      ],
      [
        { type: "voice_valid" },
        { type: "first_audio_within", ms: 3000 },
        { type: "no_long_silence", ms: 2000 },
        { type: "must_match", pattern: "help" },
      ],
    );
    const verdict = await computeVerdict(ctx.db.db, session, undefined);
    expect(verdict.passed).toBe(false);
    expect(verdict.checks.map((c) => [c.type, c.status])).toEqual([
      ["completed", "passed"],
      ["voice_valid", "failed"],
      ["first_audio_within", "passed"],
      ["no_long_silence", "failed"],
      ["must_match", "passed"],
    ]);
    expect(verdict.checks[1]!.detail).toBe(
      "1 finding (1 mark_misuse); first: mark_misuse “A mark for an unknown name”",
    );
  });
});
