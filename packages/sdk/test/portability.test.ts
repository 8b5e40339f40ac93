// src/ must run in browsers as well as in Node: nothing Node-only may slip into it.
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const SRC = new URL("../src/", import.meta.url);
const ALLOWED_PACKAGES = new Set(["openapi-fetch"]);

const sources = (readdirSync(SRC, { recursive: true }) as string[])
  .filter((file) => file.endsWith(".ts"))
  .map((file) => ({ file, text: readFileSync(new URL(file, SRC), "utf8") }));

/** The code without its comments, so that examples in JSDoc do not count. */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");

describe("src", () => {
  it("imports only relative modules and openapi-fetch", () => {
    const imports = sources.flatMap(({ file, text }) =>
      [...code(text).matchAll(/\bfrom\s+"([^"]+)"/g)].map((match) => ({ file, specifier: match[1]! })),
    );
    expect(imports.length).toBeGreaterThan(0);
    const foreign = imports.filter(
      ({ specifier }) => !specifier.startsWith(".") && !ALLOWED_PACKAGES.has(specifier),
    );
    expect(foreign).toEqual([]);
  });

  it("loads one module dynamically: ws, in live.ts, where no WebSocket class exists (Node 20)", () => {
    // live.ts reaches `import("ws")` only when neither the webSocket option nor globalThis.WebSocket is there,
    // which never happens in a browser. Statically (types included), ws is refused by the test above.
    const dynamic = sources.flatMap(({ file, text }) =>
      [...code(text).matchAll(/\bimport\s*\(\s*([^)]*)\)/g)].map((match) => ({ file, specifier: match[1]! })),
    );
    expect(dynamic).toEqual([{ file: "live.ts", specifier: '"ws"' }]);
  });

  it("uses no Node globals", () => {
    const offenders = sources.filter(({ text }) =>
      /\b(process|Buffer|require|__dirname|global)\b/.test(code(text)),
    );
    expect(offenders.map(({ file }) => file)).toEqual([]);
  });
});
