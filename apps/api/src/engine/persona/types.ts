import type { SenderType } from "@mimic/db";

export interface PersonaProfile {
  id: string;
  name: string;
  description: string | null;
  prompt: string;
  traits: Record<string, string | number | boolean>;
  goal: string | null;
  script: string[];
  model: string | null;
  temperature: number | null;
  seed: number | null;
}

export interface TranscriptLine {
  senderType: SenderType;
  content: string;
}

export interface PersonaTurnInput {
  sessionId: string;
  persona: PersonaProfile;
  transcript: TranscriptLine[];
  /** 0 for the persona's first message. */
  turn: number;
}

export interface PersonaTurn {
  content: string;
  /** The persona considers its goal reached: this message closes the conversation. */
  goalReached: boolean;
  /**
   * The persona gives up on the agent (it kept repeating itself, ignored the question, stalled): this message is
   * the customer's last, and the session ends as `persona_gave_up` with this as its detail. Never set together
   * with `goalReached`.
   */
  giveUp?: string;
  usage?: { promptTokens: number; completionTokens: number };
}

export interface PersonaProvider {
  next(input: PersonaTurnInput): Promise<PersonaTurn>;
  /**
   * Whether `next` reads the transcript for this turn (default: always). A turn that does not (a script line) is
   * played without reading the conversation back from the database.
   */
  needsTranscript?(persona: PersonaProfile, turn: number): boolean;
}
