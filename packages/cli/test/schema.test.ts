// mimic.schema.json is generated from the API's OpenAPI document (packages/sdk/openapi.json): the committed file
// must be what the generator makes of the committed document, and it must say what the API says.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { expectedSchema, OPENAPI_FILE, SCHEMA_FILE } from "../scripts/generate-schema.js";

// biome-ignore lint/suspicious/noExplicitAny: walking JSON documents whose shape the test asserts.
type Schema = Record<string, any>;

describe("mimic.schema.json", () => {
  it("matches what `pnpm gen` makes of openapi.json", () => {
    const committed = readFileSync(SCHEMA_FILE, "utf8");
    expect(committed, "mimic.schema.json is stale: run `pnpm gen` and commit the result").toBe(
      expectedSchema(),
    );
  });

  it("takes personas, agents, checks and session configs from the API's component schemas", () => {
    const openapi = JSON.parse(readFileSync(OPENAPI_FILE, "utf8")).components.schemas as Record<
      string,
      Schema
    >;
    const schema = JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as Schema;
    expect(schema.$id).toBe("https://unpkg.com/@mimic/cli/mimic.schema.json");
    expect(schema.title).toBe("Mimic test suite");
    const defs = schema.definitions as Record<string, Schema>;
    expect(defs.SessionCheck).toEqual(openapi.SessionCheck);
    expect(Object.keys(defs.Persona!.properties)).toEqual(
      Object.keys(openapi.CreatePersonaRequest!.properties),
    );
    expect(defs.Persona!.required).not.toContain("name");
    expect(defs.Agent!.required).toEqual(["type", "config"]);
    expect(defs.Scenario!.properties.repeat.maximum).toBe(
      openapi.CreateSessionRequest!.properties.repeat.maximum,
    );
    expect(defs.Scenario!.properties.config).toEqual(openapi.CreateSessionRequest!.properties.config);
  });

  it("ships in the package as @mimic/cli/schema.json", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
    expect(pkg.exports["./schema.json"]).toBe("./mimic.schema.json");
    expect(pkg.files).toContain("mimic.schema.json");
  });
});
