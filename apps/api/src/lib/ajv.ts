// Two validators: request bodies are validated as sent (a string field never accepts 123), while query strings
// and path parameters, which are text on the wire, are coerced to the declared types.
import { Ajv, type Options } from "ajv";
import formats from "ajv-formats";

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
