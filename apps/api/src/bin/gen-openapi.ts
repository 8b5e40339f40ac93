// `pnpm gen` (first step): writes the OpenAPI document, keys sorted for stable diffs, to packages/sdk/openapi.json.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { renderOpenApiDocument } from "../lib/openapi-document.js";

const target = fileURLToPath(new URL("../../../../packages/sdk/openapi.json", import.meta.url));
writeFileSync(target, await renderOpenApiDocument());
console.log(`wrote ${target}`);
