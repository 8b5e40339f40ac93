// Builds mimic.schema.json, the JSON Schema of a suite file, from the API's OpenAPI document (the one the SDK is
// generated from), so a suite accepts exactly what the API accepts. `pnpm gen` writes it; a test fails when the
// committed file is stale. Nothing about personas, agents, checks or session configs is written here by hand:
// it comes from `components.schemas`; this file adds only the suite's own shape (keys, scenarios, repeat).

type Schema = Record<string, unknown>;

export interface OpenApiLike {
  info?: { version?: string };
  components?: { schemas?: Record<string, Schema> };
}

export const SCHEMA_ID = "https://unpkg.com/@mimic/cli/mimic.schema.json";

const COMPONENT_REF = "#/components/schemas/";
const DEF_REF = "#/definitions/";

/** A deep copy with every `#/components/schemas/X` reference turned into `#/definitions/X`. */
function rewriteRefs<T>(value: T): T {
  if (Array.isArray(value)) return value.map(rewriteRefs) as T;
  if (value && typeof value === "object") {
    const out: Schema = {};
    for (const [key, inner] of Object.entries(value)) {
      out[key] =
        key === "$ref" && typeof inner === "string" && inner.startsWith(COMPONENT_REF)
          ? DEF_REF + inner.slice(COMPONENT_REF.length)
          : rewriteRefs(inner);
    }
    return out as T;
  }
  return value;
}

/** Names of the component schemas `value` references, directly. */
function refsOf(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) refsOf(item, found);
  else if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      if (key === "$ref" && typeof inner === "string" && inner.startsWith(COMPONENT_REF))
        found.add(inner.slice(COMPONENT_REF.length));
      else refsOf(inner, found);
    }
  }
  return found;
}

/** JSON with object keys sorted at every level: the same document always gives the same bytes. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Schema)[key])]),
    ) as T;
  }
  return value;
}

/** The string values an `enum`/`const`, or an `anyOf` of them, allows (CreateAgentRequest's `type`). */
function literalsOf(schema: Schema | undefined): string[] {
  if (!schema) return [];
  if (Array.isArray(schema.enum)) return schema.enum.filter((v): v is string => typeof v === "string");
  if (typeof schema.const === "string") return [schema.const];
  const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  return branches ? branches.flatMap(literalsOf) : [];
}

const pascal = (text: string) => text.replace(/(^|[_-])([a-z])/g, (_m, _s, c: string) => c.toUpperCase());

export function buildSuiteSchema(openapi: OpenApiLike): Schema {
  const components = openapi.components?.schemas ?? {};
  const component = (name: string): Schema => {
    const schema = components[name];
    if (!schema) throw new Error(`openapi.json has no components.schemas.${name}`);
    return schema;
  };

  const definitions: Record<string, Schema> = {};
  const include = (name: string) => {
    if (definitions[name]) return;
    definitions[name] = rewriteRefs(component(name));
    for (const ref of refsOf(component(name))) include(ref);
  };

  // Personas: CreatePersonaRequest, except that `name` may be left out (it defaults to the suite key).
  const createPersona = component("CreatePersonaRequest");
  for (const ref of refsOf(createPersona)) include(ref);
  definitions.Persona = rewriteRefs({
    ...createPersona,
    description:
      "A persona (simulated customer) the suite creates or updates — every field of the API's CreatePersonaRequest. `name` defaults to the key; the persona is found again by that name on the next run.",
    required: ((createPersona.required as string[] | undefined) ?? []).filter((f) => f !== "name"),
  });

  // Agents: CreateAgentRequest without a required `name`, and `config` checked against the schema of its `type`
  // (WebhookAgentConfig for "webhook" …) where the document has one: that is what the API does on create.
  const createAgent = component("CreateAgentRequest");
  for (const ref of refsOf(createAgent)) include(ref);
  const byType: Schema[] = [];
  for (const type of literalsOf((createAgent.properties as Record<string, Schema>).type)) {
    const name = `${pascal(type)}AgentConfig`;
    if (!components[name]) continue;
    include(name);
    byType.push({
      if: { properties: { type: { const: type } }, required: ["type"] },
      // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword.
      then: { properties: { config: { $ref: DEF_REF + name } } },
    });
  }
  definitions.Agent = rewriteRefs({
    ...createAgent,
    description:
      "An agent (the bot under test) the suite creates or updates — every field of the API's CreateAgentRequest. `name` defaults to the key; the agent is found again by that name on the next run.",
    required: ((createAgent.required as string[] | undefined) ?? []).filter((f) => f !== "name"),
    ...(byType.length > 0 ? { allOf: byType } : {}),
  });

  // Scenarios: what one session of CreateSessionRequest takes, with `persona`/`agent` by suite key or id.
  const createSession = component("CreateSessionRequest");
  for (const ref of refsOf(createSession)) include(ref);
  const session = createSession.properties as Record<string, Schema>;
  const sessionField = (name: string, fallback?: Schema): Record<string, Schema> => {
    const schema = session[name] ?? fallback;
    return schema ? { [name]: rewriteRefs(schema) } : {};
  };
  const reference = (what: string) => ({
    type: "string",
    minLength: 1,
    description: `The key of a ${what} in this suite's \`${what}s\`, or the id of an existing ${what} on the server`,
  });
  definitions.Scenario = {
    type: "object",
    additionalProperties: false,
    description:
      "A conversation to run and judge: `repeat` sessions between a persona and an agent. It passes when its share of passing runs reaches --min-pass-rate.",
    required: ["name", "persona", "agent"],
    properties: {
      name: {
        type: "string",
        minLength: 1,
        maxLength: 200,
        description: "Unique in the suite: names the test in reports (JUnit testsuite, Markdown row)",
      },
      persona: reference("persona"),
      agent: reference("agent"),
      repeat: {
        ...(session.repeat ?? { type: "integer", minimum: 1, maximum: 20 }),
        default: 1,
        description: "How many sessions (runs) to play; the pass rate is taken over them",
      },
      ...sessionField("config"),
      ...sessionField("checks"),
      ...sessionField("inheritChecks"),
      ...sessionField("metadata"),
    },
  };

  const entries = (ref: string, what: string) => ({
    type: "object",
    description: `${what} by key. Scenarios refer to them by key.`,
    propertyNames: { minLength: 1, maxLength: 200 },
    additionalProperties: { $ref: DEF_REF + ref },
  });

  return sortKeys({
    $schema: "http://json-schema.org/draft-07/schema#",
    $id: SCHEMA_ID,
    title: "Mimic test suite",
    description:
      "A Mimic suite (mimic.yaml): the personas and agents it declares and the scenarios it runs (`npx @mimic/cli run`). Generated from the Mimic API's OpenAPI document.",
    type: "object",
    additionalProperties: false,
    properties: {
      $schema: { type: "string", description: "The JSON Schema of this file, for editors" },
      name: {
        type: "string",
        minLength: 1,
        maxLength: 200,
        description: "The suite's name in reports (default: the first file's name without its extension)",
      },
      agents: entries("Agent", "The agents (bots under test)"),
      personas: entries("Persona", "The personas (simulated customers)"),
      scenarios: {
        type: "array",
        description: "The scenarios to run",
        items: { $ref: `${DEF_REF}Scenario` },
      },
    },
    definitions,
  });
}

/**
 * JSON laid out the way the repository's formatter (Biome, line width 110) lays it out, so formatting the file
 * changes nothing: objects one key per line, arrays of plain values on one line when they fit.
 */
export function formatJson(value: unknown, indent = "", key = ""): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const inner = `${indent}  `;
    if (value.every((v) => v === null || typeof v !== "object")) {
      const flat = `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
      if (indent.length + key.length + flat.length + 1 <= 110) return flat;
    }
    return `[\n${value.map((v) => inner + formatJson(v, inner)).join(",\n")}\n${indent}]`;
  }
  if (value && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    const inner = `${indent}  `;
    const lines = entries.map(([k, v]) => {
      const prefix = `${JSON.stringify(k)}: `;
      return inner + prefix + formatJson(v, inner, prefix);
    });
    return `{\n${lines.join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** The file's text, as written to mimic.schema.json. */
export function renderSuiteSchema(openapi: OpenApiLike): string {
  return `${formatJson(buildSuiteSchema(openapi))}\n`;
}
