// Session checks: what a finished session must satisfy. Shared by sessions (per session) and personas (defaults).
import type { Database, SessionCheck } from "@mimic/db";
import { type TObject, Type } from "@sinclair/typebox";
import { sql } from "drizzle-orm";
import { AppError, type ErrorDetail } from "../errors.js";

const variants: TObject[] = [
  Type.Object(
    {
      type: Type.Literal("reply_within"),
      ms: Type.Integer({
        minimum: 1,
        maximum: 600_000,
        description: "Every agent reply within this many ms",
      }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    { type: Type.Literal("all_answered") },
    { additionalProperties: false, description: "Every persona message gets a reply" },
  ),
  Type.Object(
    {
      type: Type.Literal("must_match"),
      pattern: Type.String({
        minLength: 1,
        maxLength: 200,
        description: "PostgreSQL regular expression, case-insensitive",
      }),
    },
    { additionalProperties: false, description: "At least one agent message matches" },
  ),
  Type.Object(
    {
      type: Type.Literal("must_not_match"),
      pattern: Type.String({
        minLength: 1,
        maxLength: 200,
        description: "PostgreSQL regular expression, case-insensitive",
      }),
    },
    { additionalProperties: false, description: "No agent message matches" },
  ),
  Type.Object(
    { type: Type.Literal("goal_reached") },
    { additionalProperties: false, description: "The persona reached its goal" },
  ),
  Type.Object(
    {
      type: Type.Literal("llm_judge"),
      rubric: Type.String({
        minLength: 1,
        maxLength: 2000,
        description: "What a good conversation looks like",
      }),
    },
    {
      additionalProperties: false,
      description: "An LLM grades the transcript (skipped when no LLM is configured)",
    },
  ),
  Type.Object(
    { type: Type.Literal("whatsapp_valid") },
    {
      additionalProperties: false,
      description:
        "WhatsApp agents: the Graph API refused none of the bot's calls (on by default for WhatsApp agents)",
    },
  ),
  Type.Object(
    { type: Type.Literal("voice_valid") },
    {
      additionalProperties: false,
      description:
        "Voice agents: the bot's Media Streams frames were all well-formed, on its stream, in the call's format (on by default for voice agents)",
    },
  ),
  Type.Object(
    {
      type: Type.Literal("first_audio_within"),
      ms: Type.Integer({
        minimum: 1,
        maximum: 600_000,
        description:
          "Every bot utterance starts within this many ms of the end of the persona's speech (talking over passes)",
      }),
    },
    {
      additionalProperties: false,
      description: "Voice agents: time to first audio of every bot utterance",
    },
  ),
  Type.Object(
    {
      type: Type.Literal("no_long_silence"),
      ms: Type.Integer({
        minimum: 1,
        maximum: 600_000,
        description: "The longest dead air allowed on the call, in ms",
      }),
    },
    {
      additionalProperties: false,
      description:
        "Voice agents: no silence longer than this after the persona's speech or between the bot's utterances",
    },
  ),
];

/** Checks that only mean something on a voice call: a session of another agent type refuses them. */
export const VOICE_CHECK_TYPES: readonly SessionCheck["type"][] = [
  "voice_valid",
  "first_audio_within",
  "no_long_silence",
];

export const SessionCheckSchema = Type.Unsafe<SessionCheck>({
  $id: "SessionCheck",
  type: "object",
  required: ["type"],
  oneOf: variants,
  discriminator: { propertyName: "type" },
  description: "A check a finished session must pass",
});

export const checksSchema = (description: string) =>
  Type.Array(Type.Ref(SessionCheckSchema), { maxItems: 20, description });

export const CheckResultSchema = Type.Object(
  {
    name: Type.String(),
    type: Type.String({
      description: "The check's type, or `completed` for the implicit check that the session completed",
    }),
    status: Type.Union([Type.Literal("passed"), Type.Literal("failed"), Type.Literal("skipped")]),
    passed: Type.Union([Type.Boolean(), Type.Null()], { description: "null when skipped" }),
    detail: Type.String(),
  },
  { $id: "CheckResult" },
);

export const SessionResultSchema = Type.Object(
  {
    passed: Type.Boolean({
      description: "The session completed and no check failed (skipped checks do not count)",
    }),
    checks: Type.Array(Type.Ref(CheckResultSchema)),
  },
  { $id: "SessionResult" },
);

export const checkSchemas = [SessionCheckSchema, CheckResultSchema, SessionResultSchema];

/** Patterns are PostgreSQL regular expressions: PostgreSQL itself says whether each one compiles. */
export async function validateCheckPatterns(
  db: Database,
  checks: SessionCheck[] | undefined,
  field = "checks",
) {
  for (const [i, check] of (checks ?? []).entries()) {
    if (check.type !== "must_match" && check.type !== "must_not_match") continue;
    try {
      await db.execute(sql`select '' ~* ${check.pattern}`);
    } catch {
      throw new AppError("VALIDATION_ERROR", "Invalid request data", [
        { field: `${field}[${i}].pattern`, message: "is not a valid regular expression" },
      ]);
    }
  }
}

/** A check's identity: its type and parameters, key order aside. Identical checks are kept once. */
const checkKey = (check: SessionCheck) =>
  JSON.stringify(Object.entries(check).sort(([a], [b]) => a.localeCompare(b)));

export function uniqueChecks(checks: SessionCheck[]): SessionCheck[] {
  const seen = new Set<string>();
  return checks.filter((check) => {
    const key = checkKey(check);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * A persona's default checks: `goal_reached` when it has a goal, `all_answered` always, then its own `checks`.
 * A testing tool's default must fail a bot that ignores the customer.
 */
export function personaDefaultChecks(persona: {
  goal: string | null;
  checks: SessionCheck[];
}): SessionCheck[] {
  return uniqueChecks([
    ...(persona.goal ? [{ type: "goal_reached" } as const] : []),
    { type: "all_answered" },
    ...persona.checks,
  ]);
}

/**
 * Checks every session with an agent of this type runs by default: WhatsApp bots must not be refused by Graph,
 * voice bots must speak valid Media Streams.
 */
export function agentDefaultChecks(agentType: string): SessionCheck[] {
  if (agentType === "whatsapp") return [{ type: "whatsapp_valid" }];
  if (agentType === "voice") return [{ type: "voice_valid" }];
  return [];
}

/** The checks that apply to an agent of this type: voice checks only to voice agents. */
export function checksForAgentType(checks: SessionCheck[], agentType: string): SessionCheck[] {
  return agentType === "voice" ? checks : checks.filter((check) => !VOICE_CHECK_TYPES.includes(check.type));
}

/**
 * Voice checks a session of a non-voice agent would run, as error details. A persona may carry them (it may be
 * used with any agent), but a session's own checks name its agent: there they are a mistake.
 */
export function voiceCheckDetails(
  agentType: string,
  checks: SessionCheck[] | undefined,
  field = "checks",
): ErrorDetail[] {
  if (agentType === "voice") return [];
  return (checks ?? []).flatMap((check, i) =>
    VOICE_CHECK_TYPES.includes(check.type)
      ? [
          {
            field: `${field}[${i}]`,
            message: `${check.type} applies to voice agents only (this agent is ${agentType})`,
          },
        ]
      : [],
  );
}

/**
 * The checks a session runs: the persona's and the agent type's defaults (unless `inherit` is false) plus the
 * session's own, once each.
 */
export function sessionChecks(
  persona: { goal: string | null; checks: SessionCheck[] },
  own: SessionCheck[] | undefined,
  inherit = true,
  agentDefaults: SessionCheck[] = [],
): SessionCheck[] {
  return uniqueChecks([
    ...(inherit ? [...personaDefaultChecks(persona), ...agentDefaults] : []),
    ...(own ?? []),
  ]);
}

/**
 * What the server can run: `openai` personas and LLM judges need an OpenAI-compatible endpoint; voice agents need
 * a speech-to-text endpoint.
 */
export interface LlmAvailability {
  /** MIMIC_LLM_BASE_URL is set. */
  llmConfigured: boolean;
  /** MIMIC_STT_BASE_URL is set (voice sessions can run). Left out: not known, taken as not configured. */
  sttConfigured?: boolean;
}

export const llmAvailability = (config: {
  llm: { baseUrl?: string | undefined };
  voice?: { stt?: object | undefined };
}): LlmAvailability => ({
  llmConfigured: config.llm.baseUrl !== undefined,
  sttConfigured: config.voice?.stt !== undefined,
});

export const LLM_REQUIRED = "needs an LLM endpoint: set MIMIC_LLM_BASE_URL on the server";

/** `llm_judge` checks cannot run without an LLM endpoint: say so when they are saved, not when they run. */
export function llmJudgeDetails(checks: SessionCheck[] | undefined, field = "checks"): ErrorDetail[] {
  return (checks ?? []).flatMap((check, i) =>
    check.type === "llm_judge" ? [{ field: `${field}[${i}]`, message: `llm_judge ${LLM_REQUIRED}` }] : [],
  );
}
