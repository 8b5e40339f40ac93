// Any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, LM Studio) plays the customer.
import OpenAI from "openai";
import { OutboundError } from "../outbound.js";
import type { Judge } from "../verdict.js";
import type { PersonaProfile, PersonaProvider, PersonaTurn, PersonaTurnInput } from "./types.js";

export const DONE_MARKER = "[DONE]";

export interface OpenAIPersonaOptions {
  baseURL: string;
  apiKey: string;
  model: string;
  timeoutMs: number;
  maxRetries: number;
}

const openaiClient = (options: OpenAIPersonaOptions) =>
  new OpenAI({
    baseURL: options.baseURL,
    apiKey: options.apiKey,
    timeout: options.timeoutMs,
    maxRetries: options.maxRetries,
  });

export function systemPrompt(persona: PersonaProfile): string {
  const traits = Object.entries(persona.traits)
    .map(([k, v]) => `- ${k.replace(/_/g, " ")}: ${v}`)
    .join("\n");
  return [
    "You are role-playing a CUSTOMER talking to a support agent (the user). Stay in character; never act as the agent.",
    "Write only your next message to the agent: one or a few short sentences, no stage directions, no quotes.",
    "When the agent's message ends with a line like `Options: [First] [Second — detail]`, those are buttons on your screen: to tap one, reply with its exact title only (the text before any —), choosing the one that serves your goal; or type a message if none fits.",
    `Who you are:\n${persona.prompt}`,
    persona.description ? `Background: ${persona.description}` : "",
    traits ? `Traits:\n${traits}` : "",
    persona.goal
      ? `Your goal: ${persona.goal}. When the agent has fully achieved it, thank them and end your message with ${DONE_MARKER}.`
      : `When your problem is solved, thank the agent and end your message with ${DONE_MARKER}.`,
  ]
    .filter(Boolean)
    .join("\n\n");
}

export function createOpenAIPersona(options: OpenAIPersonaOptions): PersonaProvider {
  const client = openaiClient(options);
  return {
    needsTranscript: (persona, turn) => turn >= persona.script.length,
    async next({ persona, transcript, turn }: PersonaTurnInput): Promise<PersonaTurn> {
      if (turn < persona.script.length) return { content: persona.script[turn]!, goalReached: false };
      const messages: OpenAI.ChatCompletionMessageParam[] = [
        { role: "system", content: systemPrompt(persona) },
      ];
      for (const line of transcript) {
        if (line.senderType === "persona") messages.push({ role: "assistant", content: line.content });
        else if (line.senderType === "agent") messages.push({ role: "user", content: line.content });
      }
      if (messages.length === 1)
        messages.push({ role: "user", content: "(The support chat has opened. Say why you are here.)" });
      let completion: OpenAI.ChatCompletion;
      try {
        completion = await client.chat.completions.create({
          model: persona.model ?? options.model,
          messages,
          ...(persona.temperature !== null ? { temperature: persona.temperature } : {}),
          ...(persona.seed !== null ? { seed: persona.seed } : {}),
        });
      } catch (error) {
        const status = (error as { status?: number }).status;
        const reason = status
          ? `LLM endpoint answered HTTP ${status}`
          : `LLM endpoint unreachable: ${(error as Error).message}`;
        throw new OutboundError(reason, status === undefined || status === 429 || status >= 500, status);
      }
      const raw = completion.choices[0]?.message?.content?.trim() ?? "";
      const goalReached = raw.includes(DONE_MARKER);
      const content = raw.replaceAll(DONE_MARKER, "").trim();
      if (!content) throw new OutboundError("LLM endpoint returned an empty message", true);
      return {
        content,
        goalReached,
        usage: {
          promptTokens: completion.usage?.prompt_tokens ?? 0,
          completionTokens: completion.usage?.completion_tokens ?? 0,
        },
      };
    },
  };
}

/** The LLM judge of `llm_judge` checks: reads the transcript and the rubric, answers PASS or FAIL with a reason. */
export function createOpenAIJudge(options: OpenAIPersonaOptions): Judge {
  const client = openaiClient(options);
  return {
    async judge(rubric, transcript) {
      const completion = await client.chat.completions.create({
        model: options.model,
        temperature: 0,
        messages: [
          {
            role: "system",
            content:
              "You grade a conversation between a CUSTOMER and a support AGENT against a rubric. Answer with PASS or FAIL on the first line, then one sentence explaining why.",
          },
          { role: "user", content: `Rubric: ${rubric}\n\nTranscript:\n${transcript}` },
        ],
      });
      const text = completion.choices[0]?.message?.content?.trim() ?? "";
      const [first = "", ...rest] = text.split("\n");
      const verdict = first.trim().toUpperCase();
      if (!verdict.startsWith("PASS") && !verdict.startsWith("FAIL")) {
        throw new Error(`the judge answered neither PASS nor FAIL: ${text.slice(0, 80)}`);
      }
      const reason = rest.join(" ").trim() || first.replace(/^(PASS|FAIL)\W*/i, "").trim() || verdict;
      return { passed: verdict.startsWith("PASS"), reason };
    },
  };
}
