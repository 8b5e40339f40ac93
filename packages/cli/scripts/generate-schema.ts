// `pnpm gen` (after the SDK): writes mimic.schema.json, the suite's JSON Schema, from packages/sdk/openapi.json.
// test/schema.test.ts fails when the committed file differs from what this writes.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderSuiteSchema } from "../src/schema-gen.js";

export const OPENAPI_FILE = fileURLToPath(new URL("../../sdk/openapi.json", import.meta.url));
export const SCHEMA_FILE = fileURLToPath(new URL("../mimic.schema.json", import.meta.url));

export function expectedSchema(): string {
  return renderSuiteSchema(JSON.parse(readFileSync(OPENAPI_FILE, "utf8")));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(SCHEMA_FILE, expectedSchema());
  console.log(`wrote ${SCHEMA_FILE}`);
}
