// Session checks: what a finished session must satisfy. Shared by sessions (per session) and personas (defaults).
import type { Database, SessionCheck } from "@mimic/db";
import { type TObject, Type } from "@sinclair/typebox";
import { sql } from "drizzle-orm";
import { AppError } from "../errors.js";

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
