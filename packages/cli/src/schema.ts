// Validation against mimic.schema.json, with Ajv's errors turned into one readable message per problem and a
// data path the suite reader maps back to a line. Alternatives (`anyOf`) are folded: "must be string or null",
// or the errors of the one alternative whose type matched ("must NOT have more than 2000 characters").
import { readFileSync } from "node:fs";
import { Ajv, type ErrorObject } from "ajv";
import addFormatsModule from "ajv-formats";
import { closest } from "./text.js";

type Schema = Record<string, unknown>;

/** mimic.schema.json sits at the package root, next to src/ and dist/. */
export const SCHEMA_PATH = new URL("../mimic.schema.json", import.meta.url);

let compiled: ReturnType<Ajv["compile"]> | undefined;

function validator() {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strict: false, discriminator: true, verbose: true });
    // ajv-formats is CommonJS: its default export arrives wrapped under some loaders.
    const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
      addFormatsModule) as unknown as (ajv: Ajv) => void;
    addFormats(ajv);
    compiled = ajv.compile(JSON.parse(readFileSync(SCHEMA_PATH, "utf8")) as Schema);
  }
  return compiled;
}

export interface SchemaProblem {
  path: (string | number)[];
  /** The problem is the key itself (an unknown field): point at the key's line. */
  atKey: boolean;
  /** The field is missing: point at its parent (its key, for an entry under a key). */
  missing?: boolean;
  message: string;
}

const segmentsOf = (pointer: string): (string | number)[] =>
  pointer === ""
    ? []
    : pointer
        .slice(1)
        .split("/")
        .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s));

/** What an alternative accepts, in words: `string`, `null`, `"scripted"`. */
function describe(schema: Schema | undefined): string[] {
  if (!schema) return [];
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v));
  if (schema.const !== undefined) return [JSON.stringify(schema.const)];
  if (typeof schema.type === "string") return [schema.type];
  if (Array.isArray(schema.type)) return schema.type as string[];
  if (schema.$ref) return [String(schema.$ref).split("/").pop()!];
  return [];
}

const oneOfList = (items: string[]) =>
  items.length <= 1
    ? (items[0] ?? "valid")
    : `${items.slice(0, -1).join(", ")}${items.length > 2 ? "," : ""} or ${items.at(-1)}`;

function messageOf(error: ErrorObject): SchemaProblem | undefined {
  const path = segmentsOf(error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return {
        path: [...path, String(params.missingProperty)],
        atKey: false,
        missing: true,
        message: "is required",
      };
    case "additionalProperties": {
      const name = String(params.additionalProperty);
      const known = Object.keys(((error.parentSchema as Schema)?.properties as Schema) ?? {});
      const hint = closest(name, known);
      return {
        path: [...path, name],
        atKey: true,
        message: `unknown field${hint ? ` (did you mean "${hint}"?)` : known.length ? ` (expected one of: ${known.join(", ")})` : ""}`,
      };
    }
    case "enum":
      return {
        path,
        atKey: false,
        message: `must be ${oneOfList((params.allowedValues as unknown[]).map((v) => JSON.stringify(v)))}`,
      };
    case "discriminator": {
      const tag = String(params.tag);
      if (params.error === "mapping") {
        const branches = ((error.parentSchema as Schema)?.oneOf ?? []) as Schema[];
        const values = branches.flatMap((b) => describe((b.properties as Record<string, Schema>)?.[tag]));
        return {
          path: [...path, tag],
          atKey: false,
          message: `unknown ${tag} ${JSON.stringify(params.tagValue)}: must be ${oneOfList(values)}`,
        };
      }
      return { path: [...path, tag], atKey: false, missing: true, message: "is required (a string)" };
    }
    case "if":
    case "anyOf":
    case "oneOf":
      return undefined; // folded by the caller, or explained by the nested errors
    case "propertyNames":
      return { path, atKey: false, message: "has an invalid key (keys are 1 to 200 characters)" };
    default:
      return { path, atKey: false, message: error.message ?? "is invalid" };
  }
}

/** Every problem of `data` against the suite schema; empty when it is valid. */
export function schemaErrors(data: unknown): SchemaProblem[] {
  const validate = validator();
  if (validate(data)) return [];
  const errors = validate.errors ?? [];

  // Fold each anyOf: its branches' errors at the same place are either "wrong type" (report the alternatives)
  // or, for the branch whose type matched, the real problem (report those instead).
  const dropped = new Set<ErrorObject>();
  const extra: SchemaProblem[] = [];
  for (const anyOf of errors.filter((e) => e.keyword === "anyOf" || e.keyword === "oneOf")) {
    const prefix = `${anyOf.schemaPath}/`;
    const branches = errors.filter((e) => e !== anyOf && e.schemaPath.startsWith(prefix));
    const mismatch = branches.filter(
      (e) => e.instancePath === anyOf.instancePath && ["type", "enum", "const"].includes(e.keyword),
    );
    const substantive = branches.filter((e) => !mismatch.includes(e));
    for (const e of mismatch) dropped.add(e);
    if (substantive.length === 0) {
      const alternatives = ((anyOf.schema as Schema[] | undefined) ?? []).flatMap((b) => describe(b));
      extra.push({
        path: segmentsOf(anyOf.instancePath),
        atKey: false,
        message: `must be ${oneOfList([...new Set(alternatives)])}`,
      });
    }
  }

  const seen = new Set<string>();
  const out: SchemaProblem[] = [];
  for (const problem of [...errors.filter((e) => !dropped.has(e)).map(messageOf), ...extra]) {
    if (!problem) continue;
    const id = `${problem.path.join("/")}\u0000${problem.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(problem);
  }
  return out;
}
