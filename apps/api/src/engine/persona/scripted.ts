// The offline persona: deterministic for a seed and transcript, no network. It states its problem, answers the
// agent's questions, pushes back, escalates and finally gives up on an agent that repeats itself, echoes, stalls
// or goes quiet, and thanks and ends only once an agent reply really answers its goal.
import { matchOption, parseOptions } from "./choices.js";
import type {
  PersonaProfile,
  PersonaProvider,
  PersonaTurn,
  PersonaTurnInput,
  TranscriptLine,
} from "./types.js";

const STOP_WORDS = new Set(
  `a an the and or but to of in on at for with from by about as is are was were be been being am i you your my me
  we our us it its this that these those have has had do does did will would can could should may might must not
  no yes so if then than too very just get got want need like please help customer service new know find out make
  sure receive obtain give back able some any more again still now only also what when where why how which who
  there here them they their she her his him he into over up all one i'd i'm i've it's that's you're you'll`.split(
    /\s+/,
  ),
);

const NAMES = ["Alex Morgan", "Sam Rivera", "Jordan Lee", "Taylor Brooks", "Casey Nguyen", "Robin Shah"];
const ASKING = new Set(
  "would could can do does did shall should may will is are what when where which who why how".split(" "),
);
const CLAUSE_BREAKS = new Set(["and", "but", "although", "though", "however", "while", "whereas"]);
/** A day, a date, a time span or a number: what makes an answer more than a promise. */
const CONCRETE =
  /^(?:\d.*|today|tomorrow|tonight|monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend|january|february|april|june|july|august|september|october|november|december|morning|afternoon|evening|hours?|minutes?|weeks?|two|three|four|five|six|seven|eight|nine|ten)$/;
const DONE =
  /\b(?:issued|processed|refunded|approved|credited|sent|shipped|dispatched|cancell?ed|reset|booked|scheduled|rescheduled|confirmed|arranged|replaced|updated|changed|resolved|completed|on (?:its|the|their) way|taken care of)\b/;
const NEGATION =
  /\b(?:not|no|never|nothing|none|cannot|unable|unfortunately|afraid|declined|rejected|denied|impossible)\b|n't\b/;
/** Words that turn a statement into a promise to look, not an answer. */
const HEDGE =
  /\b(?:maybe|perhaps|possibly|probably|might|hopefully|guess|think|try|trying|check|checking|request|ticket|escalate|escalated|forward|forwarded|look into|looking into|get back to you)\b/;
/** The agent restating what the customer wants is not the agent answering it. */
const REPORTED =
  /\b(?:you|you'd|you're)\s+(?:want|wanted|need|needed|like|would like|asked|asking|said|say|wrote|mentioned|requested|looking for)\b/;
/** Goals about timing are only answered by a concrete time, not by "it's been updated". */
const TIME_GOAL = /\b(?:date|time|when|day|days|eta|arriv\w*|deliver\w*|schedul\w*|appointment)\b/i;
const ADDRESSED = /^(?:you|your|yours|you'll|you're|you've)$/;
/** Stems a good answer may use instead of the goal's own words. */
const SYNONYMS: Record<string, string[]> = {
  money: ["refund", "reimburs", "credit"],
  refund: ["money", "reimburs", "credit"],
  deliver: ["arriv", "ship", "dispatch"],
  dat: [
    "day",
    "today",
    "tomorrow",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
  ],
  cancel: ["terminat", "clos"],
};
/** Neutral rounds (a new question answered, a first partial answer) a persona grants before they count against. */
const FREE_ROUNDS = 2;

type Register = "blunt" | "polite";
type StrikeKind = "silent" | "repeat" | "echo" | "offtopic" | "stall" | "vague";
type Ask = "order" | "email" | "name" | "phone" | "address" | "date" | "yesno" | "vague";
interface Outcome {
  kind: StrikeKind | "asked" | "partial";
  ask?: Ask;
  question?: string;
}

const REASONS: Record<StrikeKind, string> = {
  silent: "agent stopped answering",
  repeat: "agent kept repeating itself",
  echo: "agent only echoed my messages",
  offtopic: "agent ignored the question",
  stall: "agent kept asking questions instead of helping",
  vague: "agent never answered the question",
};

const PUSHBACK: Record<StrikeKind, Record<Register, string[]>> = {
  silent: {
    blunt: ["Hello? Is anyone there?", "I'm still waiting for an answer.", "Why is nobody answering me?"],
    polite: [
      "Hello, are you still there?",
      "Sorry, did my last message come through?",
      "Hi, is anyone there?",
    ],
  },
  repeat: {
    blunt: ["You already said that.", "You're repeating yourself.", "That's the same answer again."],
    polite: [
      "I think you said that already.",
      "Sorry, that's the same answer as before.",
      "You mentioned that already.",
    ],
  },
  echo: {
    blunt: ["Yes, that's what I said.", "You're just repeating my words.", "I know what I said."],
    polite: ["Yes, that's what I wrote.", "Right, that's what I said.", "Yes, exactly, that's my message."],
  },
  offtopic: {
    blunt: [
      "That doesn't answer my question.",
      "That has nothing to do with my problem.",
      "That's not what I asked.",
    ],
    polite: [
      "Sorry, I don't think that's what I asked.",
      "I'm not sure that's related to my question.",
      "Sorry, that doesn't really help me.",
    ],
  },
  stall: {
    blunt: [
      "Enough questions, please.",
      "Please stop asking and help me.",
      "I've given you everything you need.",
    ],
    polite: [
      "I've explained it as well as I can.",
      "I think you have everything you need from me.",
      "I'd rather have an answer than more questions.",
    ],
  },
  vague: {
    blunt: [
      "That's not a real answer.",
      "That doesn't tell me anything.",
      "OK, but that doesn't answer my question.",
    ],
    polite: [
      "Thanks, but that doesn't quite answer my question.",
      "I appreciate it, but I still don't have an answer.",
      "Sorry, I'm still not sure what that means for me.",
    ],
  },
};

const ALREADY_ANSWERED: Record<Register, string[]> = {
  blunt: ["I've already told you that.", "You asked me that already.", "I already gave you that."],
  polite: [
    "I think I've answered that already.",
    "I believe I gave you that already.",
    "I mentioned that earlier.",
  ],
};

const FIRM: Record<Register, string[]> = {
  blunt: ["I've asked this several times now.", "Please read my message properly.", "Let me be clear."],
  polite: [
    "I've asked this a couple of times now.",
    "Let me try to explain once more.",
    "Let me put it another way.",
  ],
};

const ESCALATE: Record<Register, string[]> = {
  blunt: [
    "I'm losing my patience. Can I speak to a human, please?",
    "This is going nowhere. Please put me through to a real person.",
    "I've asked several times now. Is there a human I can talk to?",
    "This is taking far too long. I want to talk to someone who can actually help.",
  ],
  polite: [
    "I'm sorry, but this isn't getting anywhere. Could I speak to someone from your team, please?",
    "I'm starting to lose patience. Is there a person I could talk to instead?",
    "I've tried a few times now. Could you pass me on to a colleague, please?",
  ],
};

const GIVE_UP: Record<StrikeKind | Register, string[]> = {
  silent: [
    "Nobody is answering, so I'll try another way. Goodbye.",
    "I've waited long enough. I'll call instead.",
  ],
  repeat: ["You keep saying the same thing. I give up.", "Same answer again. I'm done here."],
  echo: ["You're just repeating what I say. Goodbye.", "Talking to you is like talking to a mirror. Bye."],
  offtopic: ["You're not even reading my messages. I give up."],
  stall: [
    "Enough questions. I'll sort this out another way.",
    "I've answered everything and got nothing back. Bye.",
  ],
  vague: ["I still don't have an answer, so I'll stop here. Goodbye."],
  blunt: [
    "Forget it. I'll find help somewhere else.",
    "I give up. This has been a complete waste of time.",
    "This isn't helping at all. I'm done here.",
  ],
  polite: [
    "I don't think we're getting anywhere, so I'll try another way. Goodbye.",
    "Thanks for your time, but this isn't working. I'll contact you another way.",
    "I'll leave it here and try again later. Goodbye.",
  ],
};

const THANKS: Record<Register, string[]> = {
  blunt: [
    "Great, thank you! That's all I needed.",
    "Perfect, that solves it. Thanks!",
    "Thanks, that's exactly what I wanted. Bye!",
    "Good, that's what I needed to know. Thank you.",
  ],
  polite: [
    "Thank you so much, that's all I needed.",
    "Wonderful, thank you for your help!",
    "That's perfect, thanks. Have a nice day!",
  ],
};

const FOLLOW_UP: Record<Register, string[]> = {
  blunt: [
    "When exactly will that happen?",
    "OK, but what does that mean for me?",
    "Can you be more specific?",
  ],
  polite: [
    "Thanks. What happens next?",
    "I see. Can you be a bit more precise?",
    "OK, and how long will that take?",
  ],
};

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

function shuffle<T>(random: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const normalise = (text: string) => text.toLowerCase().replace(/[‘’]/g, "'");
const same = (text: string) => normalise(text).replace(/\s+/g, " ").trim();
const sentences = (text: string) =>
  text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) => s.trim())
    .filter(Boolean);

interface Word {
  text: string;
  clause: number;
}

/** Words with the clause each belongs to: punctuation and conjunctions start a new clause. */
function splitWords(sentence: string): Word[] {
  const out: Word[] = [];
  let clause = 0;
  for (const [token] of normalise(sentence).matchAll(/[a-z0-9]+(?:'[a-z]+)*|[,;:()—–]/g)) {
    if (!/[a-z0-9]/.test(token) || CLAUSE_BREAKS.has(token)) clause++;
    else out.push({ text: token, clause });
  }
  return out;
}

const words = (text: string) => splitWords(text).map((w) => w.text);

function stem(word: string): string {
  let w = word.replace(/'s$/, "");
  if (w.length > 3) w = w.replace(/ies$/, "y").replace(/(?:ing|ed|es|s)$/, "");
  return w.replace(/e$/, "");
}

const sameStem = (a: string, b: string) =>
  a === b || (Math.min(a.length, b.length) >= 5 && (a.startsWith(b) || b.startsWith(a)));

/** Whether `word` says the goal's `term`, in its own words or a synonym's. */
function saysTerm(word: string, term: string): boolean {
  const w = stem(word);
  if (sameStem(w, term)) return true;
  return Object.entries(SYNONYMS).some(
    ([key, alternatives]) => sameStem(key, term) && alternatives.some((a) => sameStem(w, a)),
  );
}

function keywords(text: string): string[] {
  const content = words(text).filter((w) => /^[a-z][a-z'-]{2,}$/.test(w) && !STOP_WORDS.has(w));
  return [...new Set(content.map(stem))];
}

/** The persona's sentences long enough that finding one in an agent reply means it was quoted back. */
const quotable = (lines: string[]) =>
  lines
    .flatMap(sentences)
    .map(words)
    .filter((ws) => ws.length >= 3);

/** The words of `sentence` that are not a quote of the persona: a whole sentence, or any run of six words. */
function unquoted(sentence: Word[], quotes: string[][]): Word[] {
  const quoted = new Set<number>();
  for (const quote of quotes) {
    const needed = Math.min(6, quote.length);
    let previous = new Array<number>(quote.length).fill(0);
    sentence.forEach((word, i) => {
      const run = quote.map((q, j) => (q === word.text ? (j > 0 ? previous[j - 1]! : 0) + 1 : 0));
      for (const length of run) if (length >= needed) for (let k = 0; k < length; k++) quoted.add(i - k);
      previous = run;
    });
  }
  return sentence.filter((_, i) => !quoted.has(i));
}

/**
 * True when one of the agent's sentences answers the goal: after dropping what it quotes from the persona, it
 * names the goal's key terms in a clause that is neither a question, a negation nor a hedge, and carries something
 * the customer did not say: a day, a date or a number, or a completed action ("has been issued", "is on its way").
 * Without a usable goal, only a completed action counts.
 */
export function goalCovered(
  goal: string | null,
  agentReplies: string[],
  personaLines: string[] = [],
): boolean {
  const terms = goal ? keywords(goal) : [];
  const needed = Math.ceil(terms.length * 0.6);
  const quotes = quotable(personaLines);
  const personaWords = new Set(personaLines.flatMap(words));
  const personaText = personaLines.map(normalise).join(" ");
  const timely = terms.length > 0 && TIME_GOAL.test(goal ?? "");
  const isTerm = (word: string) => terms.some((t) => saysTerm(word, t));

  return agentReplies.flatMap(sentences).some((sentence) => {
    const all = splitWords(sentence);
    const lastClause = all.at(-1)?.clause ?? 0;
    const asking = (clause: number) =>
      ASKING.has(all.find((w) => w.clause === clause)?.text ?? "") ||
      (clause === lastClause && /\?\s*$/.test(sentence));
    const own = unquoted(all, quotes);
    const hits = terms.filter((t) => own.some((w) => saysTerm(w.text, t))).length;
    if (hits < needed) return false;

    const clauses = new Map<number, string[]>();
    for (const w of own) clauses.set(w.clause, [...(clauses.get(w.clause) ?? []), w.text]);
    const relevant = [...clauses].filter(([, ws]) =>
      terms.length > 0 ? ws.some(isTerm) : DONE.test(ws.join(" ")),
    );
    if (relevant.length === 0) return false;
    const unsure = (text: string) => NEGATION.test(text) || HEDGE.test(text) || REPORTED.test(text);
    if (relevant.some(([c, ws]) => asking(c) || unsure(ws.join(" ")))) return false;

    const ownText = own.map((w) => w.text).join(" ");
    const done = [...ownText.matchAll(new RegExp(DONE, "g"))].some((m) => !personaText.includes(m[0]));
    const concrete = own.some((w) => CONCRETE.test(w.text) && !personaWords.has(w.text));
    if (terms.length === 0) return done;
    if (timely) return concrete;
    return done || (concrete && own.some((w) => ADDRESSED.test(w.text)));
  });
}

const trait = (persona: PersonaProfile, ...names: string[]) => {
  for (const name of names) {
    const value = persona.traits[name];
    if (typeof value === "string") return value.toLowerCase();
  }
  return "";
};

/** Turns the prompt's "you" into the customer's "I"; "you" after a verb or preposition becomes "me". */
function firstPerson(text: string): string {
  return text
    .replace(/\byou're\b/gi, "I'm")
    .replace(/\byou've\b/gi, "I've")
    .replace(/\byou'd\b/gi, "I'd")
    .replace(/\byou are\b/gi, "I am")
    .replace(/\byourself\b/gi, "myself")
    .replace(/\byours\b/gi, "mine")
    .replace(/\byour\b/gi, "my")
    .replace(/(^|[,;]\s*|\b(?:and|but|so|that|because|when|if|since|as|then|now)\s+)you\b/gi, "$1I")
    .replace(/\byou\b/gi, "me");
}

/** Capitalises each sentence and the pronoun "I", and tidies the spacing. */
function tidy(text: string): string {
  return text
    .replace(/\s+/g, " ")
    .trim()
    .replace(/\bi\b/g, "I")
    .replace(/(^|[.!?]\s+)([a-z])/g, (_, before: string, letter: string) => before + letter.toUpperCase());
}

/** The first sentence of the prompt that says what is wrong, rewritten in the first person. */
function problemStatement(persona: PersonaProfile): string {
  const all = sentences(persona.prompt);
  const telling =
    all.find((s) =>
      /\b(order|delay|late|broken|charge|refund|account|password|deliver|cancel|bill|invoice|subscription|problem|issue|wrong|missing)\w*/i.test(
        s,
      ),
    ) ??
    all.find((s) => !/^you are\b/i.test(s)) ??
    all[0] ??
    "";
  return tidy(firstPerson(telling).replace(/^I am an? [^,.]*? who /i, "I "));
}

/** Ways to ask for the goal; the first is the plainest and opens the conversation. */
function goalAsks(goal: string | null): string[] {
  const phrase = goal
    ?.trim()
    .replace(/[.!?]+$/, "")
    .replace(/^to\s+/i, "");
  if (!phrase) {
    return [
      "Can you help me sort this out?",
      "Please help me sort this out.",
      "I just need this fixed.",
      "What can you do about it?",
      "Can you fix this for me?",
    ];
  }
  const g = firstPerson(/^[A-Z][a-z]/.test(phrase) ? phrase[0]!.toLowerCase() + phrase.slice(1) : phrase);
  const object = /^(?:get|receive|obtain|have)\s+(.+)$/i.exec(g)?.[1];
  return [
    `I'd like to ${g}.`,
    `I just want to ${g}.`,
    `Could you please help me ${g}?`,
    `All I'm asking is to ${g}.`,
    `I really need to ${g}.`,
    `My question is simple: can you help me ${g}?`,
    ...(object
      ? [`I need ${object}.`, `Can I have ${object}, please?`, `Please just give me ${object}.`]
      : [`Please help me ${g}.`]),
  ];
}

interface Character {
  register: Register;
  /** Unhelpful rounds the persona puts up with; it gives up on the next one. */
  limit: number;
  greeting: string;
  problem: string;
  asks: string[];
  orderNote: string;
  order: string;
  name: string;
  email: string;
  phone: string;
  street: string;
  placed: string;
}

/** Who the persona is for a whole session: its temper, and details that stay the same each time it gives them. */
function character(persona: PersonaProfile, key: string, said: string[]): Character {
  const random = rng(hash(`${key}:details`));
  const style = trait(persona, "communication_style", "style");
  const patience = trait(persona, "patience_level", "patience");
  const impatient = patience === "low" || trait(persona, "urgency") === "high";
  const blunt = impatient || /direct|blunt|curt|terse|rude|aggressive/.test(style);
  const name = NAMES[Math.floor(random() * NAMES.length)]!;
  const invented = String(100000 + Math.floor(random() * 900000));
  // An order number the persona already gave (in its script, say) stays its order number.
  const order = /#(\d{3,})/.exec(said.join(" "))?.[1] ?? invented;
  return {
    register: blunt ? "blunt" : "polite",
    limit: impatient ? 3 : patience === "high" ? 5 : 4,
    greeting:
      style === "formal" || style === "polite" ? "Hello, good afternoon." : impatient ? "Hi." : "Hi there!",
    problem: problemStatement(persona),
    asks: goalAsks(persona.goal),
    orderNote: /\b(order|parcel|package|deliver|shipping|purchase|bought)\w*/i.test(persona.prompt)
      ? `My order number is #${order}.`
      : "",
    order,
    name,
    email: `${name.toLowerCase().replace(/\s+/g, ".")}@example.com`,
    phone: `+1 555 ${Math.floor(random() * 9000) + 1000}`,
    street: `${Math.floor(random() * 200) + 1} Market Street`,
    placed:
      /\b(\w+ (?:days?|weeks?|months?) ago)\b/i.exec(persona.prompt)?.[1] ??
      ["last Monday", "two weeks ago", "on the 3rd"][Math.floor(random() * 3)]!,
  };
}

function askKind(question: string): Ask {
  const q = normalise(question);
  if (/e-?mail/.test(q)) return "email";
  if (/\bname\b/.test(q)) return "name";
  if (/phone|mobile|call you/.test(q)) return "phone";
  if (/address|zip|postcode|post code/.test(q)) return "address";
  if (/^when\b|what date|which day|how long ago/.test(q)) return "date";
  if (/order|reference|tracking|receipt|invoice/.test(q)) return "order";
  if (
    /tell me more|more (?:details?|information|about)|describe|explain|elaborate|the (?:problem|issue|matter)|what happened|how can i help|what can i do|anything else/.test(
      q,
    )
  )
    return "vague";
  return /^(?:would|do|does|did|shall|should|can|could|may|is|are|was|will|have|has)\b/.test(q)
    ? "yesno"
    : "vague";
}

/** The details a question asks for, in a few phrasings; empty when it asks for no detail. */
function details(ask: Ask, question: string, me: Character): string[] {
  switch (ask) {
    case "order":
      return [
        `It's order #${me.order}.`,
        `Sure, it's order #${me.order}.`,
        `The order number is #${me.order}.`,
        `My order number is #${me.order}.`,
      ];
    case "email":
      return [`It's ${me.email}.`, `My email is ${me.email}.`, `You can use ${me.email}.`];
    case "name":
      return [`My name is ${me.name}.`, `It's ${me.name}.`, `The name is ${me.name}.`];
    case "phone":
      return [`You can reach me on ${me.phone}.`, `My number is ${me.phone}.`];
    case "address":
      return [`It's ${me.street}.`, `I live at ${me.street}.`, `The address is ${me.street}.`];
    case "date":
      return /would you like|do you want|prefer|suit|convenient/.test(normalise(question))
        ? ["As soon as possible, please.", "The sooner the better.", "Any day this week would work."]
        : [`I placed it ${me.placed}.`, `It was ${me.placed}.`, `I ordered it ${me.placed}.`];
    default:
      return [];
  }
}

const lastQuestion = (replies: string[]) =>
  replies
    .flatMap(sentences)
    .reverse()
    .find((s) => /\?\s*$/.test(s) || ASKING.has(words(s)[0] ?? ""));

function similar(a: string, b: string): boolean {
  const x = new Set(words(a));
  const y = new Set(words(b));
  if (x.size === 0 || y.size === 0) return same(a) === same(b);
  const shared = [...x].filter((w) => y.has(w)).length;
  return shared / (x.size + y.size - shared) >= 0.8;
}

/** A reply that is mostly the persona's own words quoted back. */
function echoes(reply: string, quotes: string[][]): boolean {
  const all = sentences(reply).flatMap(splitWords);
  const own = unquoted(all, quotes).length;
  return own < all.length && (own <= 3 || own <= all.length * 0.3);
}

/** How the agent answered each of the persona's messages, judged against what came before it. */
function assess(greeting: string[], rounds: Round[], topic: string[], taps: boolean[] = []): Outcome[] {
  const earlier = [...greeting];
  const asked = new Set<Ask>();
  const personaLines: string[] = [];
  let neutral = 0;
  return rounds.map(({ persona, replies }, i) => {
    // A tapped option's title is the agent's words, not the customer's: an agent using them is no echo.
    if (!taps[i]) personaLines.push(persona);
    const outcome = ((): Outcome => {
      if (replies.length === 0) return { kind: "silent" };
      const quotes = quotable(personaLines);
      const unechoed = replies.filter((r) => !echoes(r, quotes));
      const fresh = unechoed.filter((r) => !earlier.some((e) => similar(e, r)));
      const question = lastQuestion(fresh.length > 0 ? fresh : unechoed);
      const ask = question ? askKind(question) : undefined;
      if (fresh.length === 0)
        return unechoed.length > 0 ? { kind: "repeat", ask, question } : { kind: "echo" };
      if (question && ask) {
        return !asked.has(ask) && neutral < FREE_ROUNDS
          ? { kind: "asked", ask, question }
          : { kind: "stall", ask, question };
      }
      const onTopic = keywords(fresh.join(" ")).some((w) => topic.some((t) => sameStem(w, t)));
      if (!onTopic) return { kind: "offtopic" };
      return neutral < FREE_ROUNDS ? { kind: "partial" } : { kind: "vague" };
    })();
    if (outcome.kind === "asked" || outcome.kind === "partial") neutral++;
    if (outcome.ask) asked.add(outcome.ask);
    earlier.push(...replies);
    return outcome;
  });
}

const isStrike = (o: Outcome): o is Outcome & { kind: StrikeKind } =>
  o.kind !== "asked" && o.kind !== "partial";

/** The commonest complaint, the latest one on a tie. */
function giveUpReason(outcomes: Outcome[]): string {
  const counts = new Map<StrikeKind, number>();
  let worst: StrikeKind = "vague";
  for (const o of outcomes.filter(isStrike)) {
    const n = (counts.get(o.kind) ?? 0) + 1;
    counts.set(o.kind, n);
    if (n >= (counts.get(worst) ?? 0)) worst = o.kind;
  }
  return REASONS[worst];
}

interface Round {
  persona: string;
  replies: string[];
}

function exchanges(transcript: TranscriptLine[]) {
  const greeting: string[] = [];
  const rounds: Round[] = [];
  for (const line of transcript) {
    if (line.senderType === "persona") rounds.push({ persona: line.content, replies: [] });
    else if (line.senderType === "agent") (rounds.at(-1)?.replies ?? greeting).push(line.content);
  }
  return { greeting, rounds };
}

/** The first combination of the parts, in a seeded order, that the persona has not said yet. */
function compose(random: () => number, said: Set<string>, previous: string, parts: string[][]): string {
  let lines = [""];
  for (const part of parts) {
    const options = shuffle(random, part);
    lines = lines.flatMap((line) => options.map((option) => `${line} ${option}`));
  }
  const candidates = lines.map(tidy);
  const fresh = candidates.find((c) => !said.has(same(c))) ?? candidates.find((c) => same(c) !== previous);
  return fresh ?? `${candidates[0] ?? ""} Please.`.trim();
}

/** Times a persona taps the same option before it stops trusting that path and types instead. */
const MAX_TAPS = 2;

/**
 * The offered option that serves the goal best: its words overlap the goal's (twice the weight) and the prompt's.
 * None when nothing overlaps (the customer types its question instead) or when the best one was tapped too often.
 */
function chooseOption(
  persona: PersonaProfile,
  offered: { title: string; description?: string }[],
  said: string[],
): string | undefined {
  const goal = keywords(persona.goal ?? "");
  const prompt = keywords(persona.prompt);
  const overlap = (terms: string[], text: string) => {
    const ws = words(text);
    return terms.filter((t) => ws.some((w) => saysTerm(w, t))).length;
  };
  let best: { title: string; score: number } | undefined;
  for (const option of offered) {
    const text = `${option.title} ${option.description ?? ""}`;
    const score = 2 * overlap(goal, text) + overlap(prompt, text);
    const taps = said.filter((line) => same(line) === same(option.title)).length;
    if (score > 0 && taps < MAX_TAPS && score > (best?.score ?? 0)) best = { title: option.title, score };
  }
  return best?.title;
}

/** Which of the persona's messages were taps on an option the agent had just offered. */
function tapped(greeting: string[], rounds: Round[]): boolean[] {
  return rounds.map((round, i) => {
    const shown = (i === 0 ? greeting : rounds[i - 1]!.replies).at(-1) ?? "";
    return matchOption(round.persona, parseOptions(shown)) !== undefined;
  });
}

export const scriptedPersona: PersonaProvider = {
  needsTranscript: (persona, turn) => turn >= persona.script.length,
  async next({ sessionId, persona, transcript, turn }: PersonaTurnInput): Promise<PersonaTurn> {
    if (turn < persona.script.length) return { content: persona.script[turn]!, goalReached: false };

    // A persona with a seed talks the same way in every session; without one, each session varies.
    const key = String(persona.seed ?? sessionId);
    const random = rng(hash(`${key}:${turn}`));
    const { greeting, rounds } = exchanges(transcript);
    const personaLines = rounds.map((r) => r.persona);
    const taps = tapped(greeting, rounds);
    const typed = personaLines.filter((_, i) => !taps[i]);
    const me = character(persona, key, personaLines);
    if (rounds.length === 0) {
      return { content: tidy(`${me.greeting} ${me.problem} ${me.asks[0]}`), goalReached: false };
    }

    const said = new Set(personaLines.map(same));
    const say = (...parts: string[][]) => compose(random, said, same(personaLines.at(-1) ?? ""), parts);
    const tone = me.register;
    if (goalCovered(persona.goal, rounds.at(-1)?.replies ?? [], typed)) {
      return { content: say(THANKS[tone]), goalReached: true };
    }

    // Buttons or a list on the screen: a customer taps the one that serves their goal.
    const offered = parseOptions(rounds.at(-1)?.replies.at(-1) ?? "");
    const pick = chooseOption(persona, offered, personaLines);
    if (pick) return { content: pick, goalReached: false };

    const topic = [...keywords(persona.prompt), ...keywords(persona.goal ?? "")];
    const outcomes = assess(greeting, rounds, topic, taps);
    const now = outcomes.at(-1)!;
    const question = now.question ?? "";
    const answer = now.ask ? details(now.ask, question, me) : [];

    if (!isStrike(now)) {
      if (now.kind === "partial") return { content: say(FOLLOW_UP[tone], me.asks), goalReached: false };
      if (answer.length > 0) return { content: say(answer), goalReached: false };
      if (now.ask === "yesno") {
        return {
          content: say(["Yes, please.", "Yes.", "Yes, that would help."], me.asks),
          goalReached: false,
        };
      }
      const openers =
        tone === "blunt" ? ["OK.", "Sure.", "Fine."] : ["Of course.", "Sure.", "Happy to explain."];
      return { content: say(openers, [`${me.problem} ${me.orderNote}`], me.asks), goalReached: false };
    }

    const strikes = outcomes.filter(isStrike).length;
    if (strikes >= me.limit) {
      return {
        content: say([...GIVE_UP[now.kind], ...GIVE_UP[tone]]),
        goalReached: false,
        giveUp: giveUpReason(outcomes),
      };
    }
    // The ladder: rephrase, then firmer (for personas patient enough to have the room), then ask for a human.
    const pushback =
      answer.length > 0 || (now.kind === "repeat" && now.question)
        ? ALREADY_ANSWERED[tone]
        : PUSHBACK[now.kind][tone];
    const request = answer.length > 0 ? [answer] : [];
    if (strikes === me.limit - 1)
      return { content: say(pushback, ...request, ESCALATE[tone]), goalReached: false };
    if (request.length > 0) return { content: say(pushback, ...request), goalReached: false };
    if (me.limit >= 4 && strikes === me.limit - 2) {
      return { content: say(pushback, FIRM[tone], me.asks), goalReached: false };
    }
    return { content: say(pushback, me.asks), goalReached: false };
  },
};
