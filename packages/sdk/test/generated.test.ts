// The committed generated code must be what the generator makes of the committed openapi.json.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { GENERATED_DIR, generate, readDocument } from "../scripts/generate.js";

describe("src/generated", () => {
  it("matches what `pnpm gen` makes of openapi.json", async () => {
    const files = await generate(readDocument());
    for (const [name, expected] of Object.entries(files)) {
      let committed: string | undefined;
      try {
        committed = readFileSync(`${GENERATED_DIR}${name}`, "utf8");
      } catch {
        committed = undefined;
      }
      expect(
        committed,
        `src/generated/${name} is stale or missing: run \`pnpm gen\` and commit the result`,
      ).toBe(expected);
    }
  });
});
