// Two validators: request bodies are validated as sent (a string field never accepts 123), while query strings
// and path parameters, which are text on the wire, are coerced to the declared types.
import { Ajv, type ErrorObject, type Options, type ValidateFunction } from "ajv";
import formats from "ajv-formats";
import type { FastifySchema } from "fastify";

// `discriminator` lets a `oneOf` keyed on `type` (session checks) report the errors of the matching branch only.
const base: Options = {
  allErrors: true,
  useDefaults: true,
  removeAdditional: false,
  strict: false,
  discriminator: true,
};

function make(coerceTypes: Options["coerceTypes"]) {
  const ajv = new Ajv({ ...base, coerceTypes });
  // ajv-formats is CommonJS: its default import is the module object.
  formats.default(ajv);
  return ajv;
}

export const bodyAjv = make(false);
export const paramsAjv = make("array");

/** Containers (objects, arrays) a request value may nest; deeper JSON is refused before anything recurses on it. */
export const MAX_JSON_DEPTH = 32;

/**
 * NUL, which PostgreSQL cannot store in text or jsonb, and UTF-16 surrogates without their pair, which jsonb
 * refuses and which are no text in any encoding.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what this looks for.
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Text from outside the API's validation (a bot's reply, an LLM's line) made storable: what PostgreSQL cannot hold
 * becomes U+FFFD, the Unicode replacement character, rather than failing the write.
 */
export const storable = (text: string) =>
  UNSTORABLE.test(text) ? text.replace(new RegExp(UNSTORABLE.source, "g"), "\ufffd") : text;

const pointerOf = (path: readonly (string | number)[]) =>
  path.map((p) => `/${String(p).replace(/~/g, "~0").replace(/\//g, "~1")}`).join("");

const problem = (path: readonly (string | number)[], keyword: string, message: string): ErrorObject => ({
  keyword,
  instancePath: pointerOf(path),
  schemaPath: "#",
  params: {},
  message,
});

/**
 * The first thing in `value` no schema should have to consider: a string (or property name) that cannot be
 * stored, or nesting deeper than MAX_JSON_DEPTH. One iterative walk, so 100,000 levels cost no stack.
 */
export function unstorableValue(value: unknown): ErrorObject | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value: v, path } = item;
    if (typeof v === "string") {
      if (UNSTORABLE.test(v))
        return problem(path, "unstorable", "must not contain NUL characters or unpaired UTF-16 surrogates");
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    if (path.length >= MAX_JSON_DEPTH)
      return problem(
        path,
        "maxDepth",
        `must not nest more than ${MAX_JSON_DEPTH} levels of objects and arrays`,
      );
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...path, i] });
      continue;
    }
    const keys = Object.keys(v);
    for (const key of keys)
      if (UNSTORABLE.test(key))
        return problem(
          path,
          "unstorable",
          "property names must not contain NUL characters or unpaired UTF-16 surrogates",
        );
    for (let i = keys.length - 1; i >= 0; i--)
      stack.push({ value: (v as Record<string, unknown>)[keys[i]!], path: [...path, keys[i]!] });
  }
  return undefined;
}

/**
 * Fastify's validator compiler: every part of every request with a schema (body, query string, params, headers)
 * is first checked for unstorable strings and depth, here and only here, then validated by its schema. The
 * errors read like Ajv's, so they reach the client as any other schema violation (422, the field named).
 */
export function compileValidator({ schema, httpPart }: { schema: FastifySchema; httpPart?: string }) {
  const validate = (httpPart === "body" ? bodyAjv : paramsAjv).compile(schema as object);
  const guarded = ((data: unknown, context?: Parameters<ValidateFunction>[1]) => {
    const found = unstorableValue(data);
    if (found) {
      guarded.errors = [found];
      return false;
    }
    const valid = validate(data, context);
    guarded.errors = validate.errors;
    return valid;
  }) as ValidateFunction;
  // Fastify hands Ajv functions (recognised by schemaEnv) the parent object, so coercion can replace a root value.
  guarded.schemaEnv = validate.schemaEnv;
  guarded.schema = validate.schema;
  return guarded;
}
