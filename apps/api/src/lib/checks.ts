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

/** Checks every session with an agent of this type runs by default: WhatsApp bots must not be refused by Graph. */
export function agentDefaultChecks(agentType: string): SessionCheck[] {
  return agentType === "whatsapp" ? [{ type: "whatsapp_valid" }] : [];
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

/** What the server can run: `openai` personas and LLM judges need an OpenAI-compatible endpoint. */
export interface LlmAvailability {
  /** MIMIC_LLM_BASE_URL is set. */
  llmConfigured: boolean;
}

export const llmAvailability = (config: { llm: { baseUrl?: string | undefined } }): LlmAvailability => ({
  llmConfigured: config.llm.baseUrl !== undefined,
});

export const LLM_REQUIRED = "needs an LLM endpoint: set MIMIC_LLM_BASE_URL on the server";

/** `llm_judge` checks cannot run without an LLM endpoint: say so when they are saved, not when they run. */
export function llmJudgeDetails(checks: SessionCheck[] | undefined, field = "checks"): ErrorDetail[] {
  return (checks ?? []).flatMap((check, i) =>
    check.type === "llm_judge" ? [{ field: `${field}[${i}]`, message: `llm_judge ${LLM_REQUIRED}` }] : [],
  );
}
