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
  usage?: { promptTokens: number; completionTokens: number };
}

export interface PersonaProvider {
  next(input: PersonaTurnInput): Promise<PersonaTurn>;
}
