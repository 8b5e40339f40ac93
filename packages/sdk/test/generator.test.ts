// The generator's rules on small documents: naming, nesting, pagination, determinism and loud failures.
import { describe, expect, it } from "vitest";
import { generate, type OpenApiDocument } from "../scripts/generate.js";

const ok = {
  description: "OK",
  content: { "application/json": { schema: { $ref: "#/components/schemas/Thing" } } },
};
const page = {
  description: "OK",
  content: { "application/json": { schema: { $ref: "#/components/schemas/ThingList" } } },
};
const pageParam = { name: "page", in: "query", required: true, schema: { type: "integer", default: 1 } };
const idParam = (name: string) => ({ name, in: "path", required: true, schema: { type: "string" } });

function documentWith(paths: Record<string, unknown>): OpenApiDocument {
  return {
    openapi: "3.1.0",
    info: { title: "Test", version: "1" },
    tags: [{ name: "sessions", description: "Test sessions" }],
    paths: paths as OpenApiDocument["paths"],
    components: {
      schemas: {
        Thing: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
        ThingList: {
          type: "object",
          properties: {
            data: { type: "array", items: { $ref: "#/components/schemas/Thing" } },
            pagination: { type: "object" },
          },
          required: ["data", "pagination"],
        },
        Error: { type: "object", description: "An error" },
      },
    },
  };
}

const nested = documentWith({
  "/api/sessions": {
    get: {
      operationId: "listSessions",
      tags: ["sessions"],
      parameters: [pageParam],
      responses: { 200: page },
    },
  },
  "/api/sessions/{id}": {
    get: {
      operationId: "getSession",
      tags: ["sessions"],
      parameters: [idParam("id")],
      responses: { 200: ok },
    },
    delete: {
      operationId: "stopSession",
      tags: ["sessions"],
      parameters: [idParam("id")],
      responses: { 204: { description: "Stopped" } },
    },
  },
  "/api/sessions/{session_id}/messages": {
    get: {
      operationId: "listSessionMessages",
      "x-sdk-resource": "sessions.messages",
      parameters: [idParam("session_id"), pageParam],
      responses: { 200: page },
    },
  },
  "/api/sessions/{id}/export": {
    get: {
      operationId: "exportSession",
      tags: ["sessions"],
      parameters: [idParam("id")],
      responses: { 200: { description: "OK", content: { "text/markdown": {}, "application/json": {} } } },
    },
  },
  "/api/sessions/{id}/stats": {
    get: {
      operationId: "getSessionStats",
      "x-sdk-method": "stats",
      tags: ["sessions"],
      parameters: [idParam("id")],
      responses: { 200: ok },
    },
  },
});

describe("generate", () => {
  it("names methods after the operationId without the resource's noun, honouring x-sdk-method", async () => {
    const { "resources.ts": resources } = await generate(nested);
    expect(resources).toContain("export class SessionsResource {");
    expect(resources).toContain(
      "  list(query?: ListSessionsQuery, options?: RequestOptions): PagePromise<ThingList> {",
    );
    expect(resources).toContain("  get(id: string, options?: RequestOptions): Promise<Thing> {");
    expect(resources).toContain("  stop(id: string, options?: RequestOptions): Promise<void> {");
    expect(resources).toContain("  stats(id: string, options?: RequestOptions): Promise<Thing> {");
    expect(resources).toContain("  export(id: string, options?: RequestOptions): Promise<string> {");
    expect(resources).toContain('parseAs: "text"');
  });

  it("nests x-sdk-resource resources and maps path parameter names to camelCase arguments", async () => {
    const { "resources.ts": resources } = await generate(nested);
    expect(resources).toContain("  readonly messages: SessionsMessagesResource;");
    expect(resources).toContain("export class SessionsMessagesResource {");
    expect(resources).toMatch(
      / {2}list\(sessionId: string, query\?: ListSessionMessagesQuery, options\?: RequestOptions\)/,
    );
    expect(resources).toContain("params: { path: { session_id: sessionId }, query: { ...query, page } }");
  });

  it("makes a required query parameter with a default optional", async () => {
    const { "schema.ts": schema } = await generate(nested);
    expect(schema).toContain("page?: number;");
    expect(schema).not.toMatch(/\bpage: number;/);
  });

  it("exports a type per component, renaming those that would shadow a global", async () => {
    const { "types.ts": types } = await generate(nested);
    expect(types).toContain('export type Thing = components["schemas"]["Thing"];');
    expect(types).toContain('/** An error */\nexport type ErrorBody = components["schemas"]["Error"];');
  });

  it("gives byte-identical output for the same document", async () => {
    expect(await generate(nested)).toEqual(await generate(structuredClone(nested)));
  });

  it("refuses two operations that would get the same method name", async () => {
    const clash = documentWith({
      "/a": { get: { operationId: "getSession", tags: ["sessions"], responses: { 200: ok } } },
      "/b": { get: { operationId: "getSessions", tags: ["sessions"], responses: { 200: ok } } },
    });
    await expect(generate(clash)).rejects.toThrow(/sessions\.get would be both/);
  });

  it("refuses an operation without operationId or with several tags", async () => {
    const anonymous = documentWith({ "/a": { get: { tags: ["sessions"], responses: { 200: ok } } } });
    await expect(generate(anonymous)).rejects.toThrow("GET /a has no operationId");
    const twoTags = documentWith({
      "/a": { get: { operationId: "getA", tags: ["x", "y"], responses: { 200: ok } } },
    });
    await expect(generate(twoTags)).rejects.toThrow(/needs exactly one tag/);
  });
});
