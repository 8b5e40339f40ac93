// The offline persona: deterministic for a given seed and transcript, no network. It opens with the persona's
// script, then states its problem, answers the agent's questions, pushes back on off-topic replies, and thanks
// and ends once the agent's words cover its goal.
import type {
  PersonaProfile,
  PersonaProvider,
  PersonaTurn,
  PersonaTurnInput,
  TranscriptLine,
} from "./types.js";

const STOP_WORDS = new Set(
  "a an the and or but to of in on at for with from by about as is are was were be been being am i you your my me we our it its this that these those have has had do does did will would can could should may might must not no yes so if then than too very just get got want need like please help customer service".split(
    " ",
  ),
);

const DONE_PHRASES =
  /\b(resolved|refund(ed)? (has been|is) (issued|processed)|all set|taken care of|done for you|that's done)\b/i;

/** Seeded PRNG (mulberry32): the same seed gives the same conversation. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

export function keywords(text: string): string[] {
  const words = text.toLowerCase().match(/[a-z][a-z'-]{2,}/g) ?? [];
  return [...new Set(words.filter((w) => !STOP_WORDS.has(w)).map((w) => w.replace(/(ing|ed|es|s)$/, "")))];
}

const trait = (persona: PersonaProfile, ...names: string[]) => {
  for (const name of names) {
    const value = persona.traits[name];
    if (typeof value === "string") return value.toLowerCase();
  }
  return "";
};

/** The first sentence of the prompt that says what is wrong, rewritten in the first person. */
function problemStatement(persona: PersonaProfile): string {
  const sentences = persona.prompt.split(/(?<=[.!?])\s+/).map((s) => s.trim());
  const telling =
    sentences.find((s) =>
      /\b(order|delay|late|broken|charge|refund|account|password|deliver|cancel|bill|invoice|subscription|problem|issue|wrong|missing)\w*/i.test(
        s,
      ),
    ) ??
    sentences.find((s) => !/^you are\b/i.test(s)) ??
    sentences[0] ??
    "";
  return telling
    .replace(/\byou're\b/gi, "I'm")
    .replace(/\byou are\b/gi, "I am")
    .replace(/\byour\b/gi, "my")
    .replace(/\byou\b/gi, "I")
    .replace(/^I am an? [^,.]*? who /i, "I ")
    .replace(/\s+/g, " ")
    .trim();
}

function goalAsk(persona: PersonaProfile): string {
  const goal = persona.goal?.trim().replace(/[.!]+$/, "");
  return goal ? `I'd like to ${goal.replace(/^to /i, "")}.` : "Can you help me sort this out?";
}

const pick = <T>(random: () => number, items: T[]): T => items[Math.floor(random() * items.length)]!;

function lastAgentReplies(transcript: TranscriptLine[]): string[] {
  const replies: string[] = [];
  for (let i = transcript.length - 1; i >= 0; i--) {
    const line = transcript[i]!;
    if (line.senderType === "persona") break;
    if (line.senderType === "agent") replies.unshift(line.content);
  }
  return replies;
}

/** True when the agent's words cover most of the goal's keywords, or it says the matter is closed. */
export function goalCovered(goal: string | null, agentText: string): boolean {
  if (DONE_PHRASES.test(agentText)) return true;
  if (!goal) return false;
  const wanted = keywords(goal);
  if (wanted.length === 0) return false;
  const said = new Set(keywords(agentText));
  const hits = wanted.filter((w) => said.has(w)).length;
  return hits / wanted.length >= 0.6;
}

function answerQuestion(question: string, random: () => number, persona: PersonaProfile): string {
  const q = question.toLowerCase();
  const digits = () => String(Math.floor(random() * 9000) + 1000);
  if (/order|reference|tracking/.test(q)) return `It's order #${digits()}${digits().slice(0, 2)}.`;
  if (/e-?mail/.test(q))
    return `${
      persona.name
        .toLowerCase()
        .replace(/[^a-z]+/g, ".")
        .replace(/^\.|\.$/g, "") || "me"
    }@example.com`;
  if (/name/.test(q))
    return `My name is ${pick(random, ["Alex Morgan", "Sam Rivera", "Jordan Lee", "Taylor Brooks"])}.`;
  if (/phone|number/.test(q)) return `You can reach me on +1 555 ${digits()}.`;
  if (/when|date|day/.test(q))
    return `I placed it ${pick(random, ["last Monday", "two weeks ago", "on the 3rd"])}.`;
  if (/address|zip|post/.test(q)) return `It's ${Math.floor(random() * 200) + 1} Market Street.`;
  return pick(random, ["Yes, that's right.", "Yes.", "Sure, go ahead.", "I think so, yes."]);
}

export const scriptedPersona: PersonaProvider = {
  async next({ sessionId, persona, transcript, turn }: PersonaTurnInput): Promise<PersonaTurn> {
    // A persona with a seed talks the same way in every session; without one, each session varies.
    const random = rng(hash(`${persona.seed ?? sessionId}:${turn}`));
    const style = trait(persona, "communication_style", "style");
    const patience = trait(persona, "patience_level", "patience");
    const urgency = trait(persona, "urgency");
    const impatient = patience === "low" || urgency === "high";

    if (turn < persona.script.length) return { content: persona.script[turn]!, goalReached: false };

    const replies = lastAgentReplies(transcript);
    const replyText = replies.join(" ");
    const personaTurns = transcript.filter((l) => l.senderType === "persona").length;

    if (personaTurns === 0) {
      const greeting =
        style === "formal" || style === "polite" ? "Hello, good afternoon." : impatient ? "Hi." : "Hi there!";
      return {
        content: `${greeting} ${problemStatement(persona)} ${goalAsk(persona)}`.replace(/\s+/g, " ").trim(),
        goalReached: false,
      };
    }

    if (replies.length > 0 && goalCovered(persona.goal, replyText)) {
      return {
        content: pick(random, [
          "Great, thank you! That's all I needed.",
          "Perfect, that solves it. Thanks for your help!",
          "Thank you, that's exactly what I wanted. Bye!",
        ]),
        goalReached: true,
      };
    }

    if (replies.length === 0) {
      return {
        content: impatient
          ? pick(random, [
              "Hello? Is anyone there?",
              "I'm still waiting for an answer.",
              "Why is nobody answering me?",
            ])
          : pick(random, ["Hello, are you still there?", "Sorry, did my last message come through?"]),
        goalReached: false,
      };
    }

    const question = [...replies].reverse().find((r) => r.includes("?"));
    if (question) return { content: answerQuestion(question, random, persona), goalReached: false };

    const topic = new Set([...keywords(persona.prompt), ...keywords(persona.goal ?? "")]);
    const onTopic = keywords(replyText).some((w) => topic.has(w));
    if (!onTopic) {
      return {
        content: `${impatient ? "That doesn't answer my question." : "Sorry, I don't think that's what I asked."} ${goalAsk(persona)}`,
        goalReached: false,
      };
    }

    const unhelpful = transcript.filter((l) => l.senderType === "persona").length;
    if (impatient && unhelpful >= 4) {
      return { content: "This is taking too long. Can I speak to a human, please?", goalReached: false };
    }
    return {
      content: pick(
        random,
        impatient
          ? [
              "When exactly will that happen?",
              "Can you do it faster?",
              "OK, but what does that mean for me?",
              `Please just tell me: ${goalAsk(persona)}`,
            ]
          : [
              "Could you tell me a bit more?",
              "Thanks. What happens next?",
              "Can you confirm that for me?",
              "OK, and how long will that take?",
            ],
      ),
      goalReached: false,
    };
  },
};
