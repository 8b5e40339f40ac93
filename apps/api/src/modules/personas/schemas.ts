import { PERSONA_PROVIDERS, PERSONA_VOICES, type PersonaConfig } from "@mimic/db";
import { type Static, Type } from "@sinclair/typebox";
import { checksSchema } from "../../lib/checks.js";
import { listOf, PageQuery, Timestamp } from "../../lib/schemas.js";

/**
 * Size caps. Each field has its own, and a whole persona is at most MAX_PERSONA_BYTES of JSON, so that a page of
 * PERSONA_PAGE_MAX personas stays under 2 MiB (50 × 32 KiB = 1.6 MiB plus ids and timestamps).
 */
export const MAX_PERSONA_BYTES = 32 * 1024;
export const MAX_TRAITS_BYTES = 4 * 1024;
export const PERSONA_PAGE_MAX = 50;

export const PersonaVoiceConfigSchema = Type.Object(
  {
    voice: Type.Optional(
      Type.Union(
        PERSONA_VOICES.map((v) => Type.Literal(v)),
        {
          description:
            "The offline (flite) voice the persona speaks with: `kal` (default, native 8 kHz phone audio), `slt`, `rms` or `awb`",
        },
      ),
    ),
    interruptAfterMs: Type.Optional(
      Type.Integer({
        minimum: 100,
        maximum: 60_000,
        description:
          "Barge in: the persona starts talking this many ms into each bot utterance, and the bot should stop (`clear`)",
      }),
    ),
  },
  {
    additionalProperties: false,
    $id: "PersonaVoiceConfig",
    description: "How the persona speaks and behaves on voice calls",
  },
);

export const PersonaConfigSchema = Type.Object(
  {
    messageInterval: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 86_400, description: "Seconds between the persona's messages" }),
    ),
    sessionDuration: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 86_400, description: "Default session length in seconds" }),
    ),
    maxMessages: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, description: "Default message cap" }),
    ),
    replyTimeout: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 600, description: "Seconds to wait for the agent's replies" }),
    ),
    voice: Type.Optional(Type.Ref(PersonaVoiceConfigSchema)),
  },
  {
    additionalProperties: false,
    $id: "PersonaConfig",
    description: "Defaults for sessions with this persona",
  },
);

// The schema and @mimic/db's column type describe the same config: a drift fails to compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// (Keys compared too: an optional field on one side only would still be assignable both ways.)
const sameConfig: Same<Static<typeof PersonaConfigSchema>, PersonaConfig> &
  Same<keyof Static<typeof PersonaConfigSchema>, keyof PersonaConfig> &
  Same<
    keyof NonNullable<Static<typeof PersonaConfigSchema>["voice"]>,
    keyof NonNullable<PersonaConfig["voice"]>
  > = true;
void sameConfig;

export const TraitsSchema = Type.Record(
  Type.String({ maxLength: 100 }),
  Type.Union([Type.String({ maxLength: 1000 }), Type.Number(), Type.Boolean()]),
  {
    maxProperties: 50,
    description: `Free-form traits, e.g. communication_style, patience_level, urgency (at most ${MAX_TRAITS_BYTES} bytes of JSON)`,
  },
);

const editable = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]),
  prompt: Type.String({
    minLength: 1,
    maxLength: 16_384,
    description: `Who the customer is and how they behave. A whole persona is at most ${MAX_PERSONA_BYTES} bytes of JSON`,
  }),
  traits: TraitsSchema,
  config: Type.Ref(PersonaConfigSchema),
  goal: Type.Union([Type.String({ maxLength: 500 }), Type.Null()], {
    description: "What the customer wants; the persona ends the conversation once it is reached",
  }),
  script: Type.Array(Type.String({ minLength: 1, maxLength: 2000 }), {
    maxItems: 50,
    description: "Fixed opening lines, sent in order",
  }),
  provider: Type.Union(
    PERSONA_PROVIDERS.map((p) => Type.Literal(p)),
    { description: "`scripted` (offline, deterministic) or `openai` (any OpenAI-compatible endpoint)" },
  ),
  model: Type.Union([Type.String({ minLength: 1, maxLength: 200 }), Type.Null()]),
  temperature: Type.Union([Type.Number({ minimum: 0, maximum: 2 }), Type.Null()]),
  seed: Type.Union([Type.Integer({ minimum: 0, maximum: 2_147_483_647 }), Type.Null()]),
  checks: checksSchema("Default checks for this persona's sessions"),
};

export const PersonaSchema = Type.Object(
  { id: Type.String({ format: "uuid" }), ...editable, createdAt: Timestamp(), updatedAt: Timestamp() },
  { $id: "Persona" },
);

export const CreatePersonaBody = Type.Object(
  {
    name: editable.name,
    prompt: editable.prompt,
    description: Type.Optional(editable.description),
    traits: Type.Optional(editable.traits),
    config: Type.Optional(editable.config),
    goal: Type.Optional(editable.goal),
    script: Type.Optional(editable.script),
    provider: Type.Optional(editable.provider),
    model: Type.Optional(editable.model),
    temperature: Type.Optional(editable.temperature),
    seed: Type.Optional(editable.seed),
    checks: Type.Optional(editable.checks),
  },
  { additionalProperties: false, $id: "CreatePersonaRequest" },
);

export const UpdatePersonaBody = Type.Partial(Type.Object(editable), {
  additionalProperties: false,
  minProperties: 1,
  $id: "UpdatePersonaRequest",
  description: "The fields to change; fields left out keep their value",
});

export const PersonaListSchema = listOf(PersonaSchema, "PersonaList");

export const ListPersonasQuery = Type.Object(
  {
    page: PageQuery.page,
    limit: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 20,
      description: `Items per page (max 100). A page holds at most ${PERSONA_PAGE_MAX} personas, so that it stays under 2 MiB: \`pagination.limit\` says how many it holds`,
    }),
  },
  { additionalProperties: false },
);

export const personaSchemas = [
  PersonaVoiceConfigSchema,
  PersonaConfigSchema,
  PersonaSchema,
  CreatePersonaBody,
  UpdatePersonaBody,
  PersonaListSchema,
];
