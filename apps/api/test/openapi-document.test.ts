import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, expectError, registerUser, type TestContext } from "./helpers.js";

type Operation = {
  operationId: string;
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string; schema: { type?: string; format?: string } }[];
  responses: Record<string, { headers?: Record<string, { $ref: string }> }>;
};
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: {
    headers: Record<string, { schema: { type: string } }>;
    securitySchemes: Record<string, { type: string; scheme?: string }>;
  };
}

let ctx: TestContext;
let doc: Document;
let operations: [string, Operation][];
beforeAll(async () => {
  ctx = await createTestApp();
  doc = (await ctx.app.inject({ method: "GET", url: "/openapi.json" })).json();
  operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(
      ([method, op]) => [`${method.toUpperCase()} ${path}`, op] as [string, Operation],
    ),
  );
});
afterAll(() => ctx.close());

const byId = (id: string) => operations.find(([, op]) => op.operationId === id)![1];

describe("the OpenAPI document", () => {
  it("documents every path id as a UUID", async () => {
    const withId = operations.filter(([name]) => name.includes("{id}"));
    expect(withId.length).toBeGreaterThanOrEqual(15);
    for (const [name, op] of withId) {
      const id = op.parameters?.find((p) => p.in === "path" && p.name === "id");
      expect(id?.schema, name).toEqual({ type: "string", format: "uuid" });
    }
  });

  it("still answers a malformed id with 404, like an unknown one (the format says what ids look like)", async () => {
    const user = await registerUser(ctx.app);
    for (const url of ["/api/personas/not-a-uuid", "/api/agents/123", "/api/sessions/x/stats"]) {
      expectError(
        await ctx.app.inject({ method: "GET", url, headers: user.headers }),
        404,
        "RESOURCE_NOT_FOUND",
      );
    }
  });

  it("documents the rate-limit headers once, on every response of every rate-limited operation", async () => {
    for (const name of ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"]) {
      expect(doc.components.headers[name]?.schema.type, name).toBe("integer");
    }
    const api = operations.filter(([name]) => name.includes(" /api/"));
    expect(api.length).toBeGreaterThanOrEqual(25);
    for (const [name, op] of api) {
      expect(op.responses["429"], name).toBeDefined();
      for (const [status, response] of Object.entries(op.responses)) {
        expect(response.headers?.["X-RateLimit-Limit"], `${name} ${status}`).toEqual({
          $ref: "#/components/headers/X-RateLimit-Limit",
        });
        expect(response.headers?.["X-RateLimit-Reset"]?.$ref, `${name} ${status}`).toBe(
          "#/components/headers/X-RateLimit-Reset",
        );
        expect(response.headers?.["X-Request-Id"], `${name} ${status}`).toBeDefined();
        expect(Boolean(response.headers?.["Retry-After"]), `${name} ${status}`).toBe(status === "429");
      }
    }
    // Probes are not rate-limited, and say so by not documenting the headers.
    expect(byId("getHealth").responses["200"]!.headers).toEqual({
      "X-Request-Id": { $ref: "#/components/headers/X-Request-Id" },
    });
  });

  it("marks public operations `security: []`, and the reply routes as open to an agent's key", async () => {
    for (const id of ["register", "login", "getHealth", "getReadiness"])
      expect(byId(id).security, id).toEqual([]);
    for (const id of ["addSessionMessage", "addSessionMessages"])
      expect(byId(id).security, id).toEqual([{ bearerAuth: [] }, { agentKey: [] }]);
    expect(doc.components.securitySchemes.agentKey).toMatchObject({ type: "http", scheme: "bearer" });
    // Everything else needs a user's credential.
    const others = operations.filter(
      ([, op]) =>
        ![
          "register",
          "login",
          "getHealth",
          "getReadiness",
          "addSessionMessage",
          "addSessionMessages",
        ].includes(op.operationId),
    );
    for (const [name, op] of others) expect(op.security, name).toEqual([{ bearerAuth: [] }]);
  });

  it("resolves every $ref it holds", () => {
    const refs = JSON.stringify(doc).match(/"\$ref":"#\/[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(100);
    for (const ref of new Set(refs)) {
      const path = ref.slice('"$ref":"#/'.length, -1).split("/");
      let node: unknown = doc;
      for (const key of path) node = (node as Record<string, unknown> | undefined)?.[key];
      expect(node, ref).toBeDefined();
    }
  });
});
