import { createDb } from "@mimic/db";
import { buildApp } from "../app.js";
import { loadConfig } from "../config.js";

/** Recursively sorts object keys so the committed document diffs cleanly. Arrays keep their order. */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

/** The OpenAPI document as committed: built from the routes' schemas without listening or touching data. */
export async function renderOpenApiDocument(): Promise<string> {
  // An in-memory database that is never opened: building the app does not query it.
  const db = createDb({ dataDir: "memory" });
  const app = await buildApp({
    config: loadConfig({ NODE_ENV: "test" }),
    db,
    jwtSecret: "openapi-document-generation-only-secret",
    logger: false,
  });
  try {
    await app.ready();
    return `${JSON.stringify(sortKeys(app.swagger()), null, 2)}\n`;
  } finally {
    await app.close();
    await db.close();
  }
}
