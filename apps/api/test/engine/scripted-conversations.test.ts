// Whole conversations between the scripted persona and bots good and useless, without a database: a useless bot
// must never get the goal reached, and must be given up on within a handful of persona messages.
import { describe, expect, it } from "vitest";
import { demoReply } from "../../src/demo/bot.js";
import { scriptedPersona } from "../../src/engine/persona/scripted.js";
import type { PersonaProfile, TranscriptLine } from "../../src/engine/persona/types.js";

type Bot = (personaText: string, history: TranscriptLine[]) => string[] | null;

interface Conversation {
  transcript: TranscriptLine[];
  personaLines: string[];
  ending: { goalReached: true } | { giveUp: string } | { stillGoing: true };
}

const base: PersonaProfile = {
  id: "5d7f3a9e-2222-4c59-9a59-2d1f0f3e9b22",
  name: "Late Parcel",
  description: null,
  prompt:
    "You are a customer of an online shop. You ordered wireless headphones ten days ago and the parcel is late. You are polite but you want a clear answer quickly.",
  traits: { communication_style: "direct", patience_level: "low", urgency: "high" },
  goal: "get a new delivery date",
  script: [],
  model: null,
  temperature: null,
  seed: 1,
};

const refunder: PersonaProfile = {
  ...base,
  id: "5d7f3a9e-3333-4c59-9a59-2d1f0f3e9b33",
  name: "Patient Refund",
  prompt:
    "You are a customer who bought a coffee machine that arrived broken. You are calm and happy to give details.",
  traits: { communication_style: "friendly", patience_level: "high", urgency: "low" },
  goal: "get a refund",
};

const PERSONAS = { "the impatient delivery-date persona": base, "the patient refund persona": refunder };
const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);

/** Alternates persona and agent like the engine does, a silent bot leaving a system note instead of a reply. */
async function converse(persona: PersonaProfile, bot: Bot, maxTurns = 12): Promise<Conversation> {
  const transcript: TranscriptLine[] = [];
  const personaLines: string[] = [];
  for (let turn = 0; turn < maxTurns; turn++) {
    const next = await scriptedPersona.next({ sessionId: "conversation", persona, transcript, turn });
    expect(next.goalReached && next.giveUp).toBeFalsy();
    transcript.push({ senderType: "persona", content: next.content });
    personaLines.push(next.content);
    if (next.goalReached) return { transcript, personaLines, ending: { goalReached: true } };
    if (next.giveUp) return { transcript, personaLines, ending: { giveUp: next.giveUp } };
    const replies = bot(next.content, transcript) ?? [];
    if (replies.length === 0)
      transcript.push({ senderType: "system", content: "No reply from the agent within 10 s." });
    for (const reply of replies) transcript.push({ senderType: "agent", content: reply });
  }
  return { transcript, personaLines, ending: { stillGoing: true } };
}

const turtle: Bot = () => ["I like turtles."];
const echo: Bot = (text) => [`You said: ${text}`];
const silent: Bot = () => null;
const QUESTIONS = [
  "Could you tell me more?",
  "What is your order number?",
  "Can you describe the issue in more detail?",
  "What is the order number, please?",
  "Could you tell me more about that?",
];
const questioner: Bot = (_, history) => [
  QUESTIONS[history.filter((l) => l.senderType === "persona").length % QUESTIONS.length]!,
];
const demo: Bot = (text) => [demoReply(text)];
/** A good refund bot: it asks for the order number once, then issues the refund. */
const refundDesk: Bot = (text) =>
  /#\d{3,}/.test(text)
    ? ["Thanks. Your refund has been issued and will reach your card in 3–5 days."]
    : ["I'm sorry to hear that. What is your order number?"];

const run = (persona: PersonaProfile, bot: Bot, seed: number) => converse({ ...persona, seed }, bot);

describe.each(Object.entries(PERSONAS))("%s, for seeds 1 to 20", (_, persona) => {
  it("gives up on the turtle bot because it keeps repeating itself", async () => {
    for (const seed of SEEDS) {
      const { ending, personaLines } = await run(persona, turtle, seed);
      expect(ending).toEqual({ giveUp: "agent kept repeating itself" });
      expect(personaLines.length).toBeGreaterThanOrEqual(4);
      expect(personaLines.length).toBeLessThanOrEqual(8);
    }
  });

  it("is not fooled by an echo bot, and gives up on it", async () => {
    for (const seed of SEEDS) {
      const { ending, personaLines } = await run(persona, echo, seed);
      expect(ending).toEqual({ giveUp: "agent only echoed my messages" });
      expect(personaLines.length).toBeLessThanOrEqual(8);
    }
  });

  it("gives up on a silent bot", async () => {
    for (const seed of SEEDS) {
      const { ending, personaLines } = await run(persona, silent, seed);
      expect(ending).toEqual({ giveUp: "agent stopped answering" });
      expect(personaLines.length).toBeLessThanOrEqual(8);
    }
  });

  it("answers a few questions, then gives up on a bot that only asks them", async () => {
    for (const seed of SEEDS) {
      const { ending, personaLines } = await run(persona, questioner, seed);
      expect(ending).toHaveProperty("giveUp");
      expect(personaLines.length).toBeLessThanOrEqual(8);
      expect(personaLines.some((l) => /#\d{6}/.test(l))).toBe(true);
    }
  });

  it("never says the same line twice, capitalises every sentence and repeats a seed's conversation", async () => {
    for (const bot of [turtle, echo, silent, questioner, demo]) {
      for (const seed of SEEDS) {
        const first = await run(persona, bot, seed);
        expect(new Set(first.personaLines).size).toBe(first.personaLines.length);
        for (const line of first.personaLines) {
          for (const sentence of line.split(/(?<=[.!?])\s+/)) expect(sentence).toMatch(/^[A-Z#0-9]/);
          expect(line).not.toMatch(/\bi\b/);
        }
        expect((await run(persona, bot, seed)).transcript).toEqual(first.transcript);
      }
    }
  });
});

describe("against bots that do their job", () => {
  it("the demo bot gives the delivery-date persona a new date within ten messages, for every seed", async () => {
    for (const seed of SEEDS) {
      const { ending, transcript } = await run(base, demo, seed);
      expect(ending).toEqual({ goalReached: true });
      expect(transcript.length).toBeLessThanOrEqual(10);
      expect(transcript.at(-2)?.content).toMatch(/new delivery date is Thursday/);
    }
  });

  it("a refund desk that asks for the order number first gets the patient persona its refund", async () => {
    for (const seed of SEEDS) {
      const { ending, transcript } = await run(refunder, refundDesk, seed);
      expect(ending).toEqual({ goalReached: true });
      expect(transcript.map((l) => l.senderType)).toEqual([
        "persona",
        "agent",
        "persona",
        "agent",
        "persona",
      ]);
      expect(transcript[2]?.content).toMatch(/#\d{6}/);
    }
  });

  it("the unseeded persona varies between sessions but still reaches the goal", async () => {
    const openings = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const persona = { ...base, seed: null };
      const transcript: TranscriptLine[] = [];
      let reached = false;
      for (let turn = 0; turn < 6 && !reached; turn++) {
        const next = await scriptedPersona.next({ sessionId: `session-${i}`, persona, transcript, turn });
        transcript.push({ senderType: "persona", content: next.content });
        reached = next.goalReached;
        if (!reached) transcript.push({ senderType: "agent", content: demoReply(next.content) });
      }
      expect(reached).toBe(true);
      openings.add(transcript.map((l) => l.content).join("\n"));
    }
    expect(openings.size).toBeGreaterThan(1);
  });
});
