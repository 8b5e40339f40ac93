import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderOpenApiDocument } from "../src/lib/openapi-document.js";
import { createTestApp, type TestContext } from "./helpers.js";

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(() => ctx.close());

describe("health", () => {
  it("reports liveness without auth", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/health" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: "ok", version: expect.any(String) });
  });

  it("reports readiness: database reachable and migrations current", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/health/ready" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: "ready",
      checks: { database: "ok", migrations: "ok", engine: "disabled", events: "ok" },
    });
  });
});

describe("readiness with the engine", () => {
  it("reports the engine, and fails once the engine has stopped", async () => {
    const withEngine = await createTestApp({}, { engine: true });
    try {
      const ok = await withEngine.app.inject({ method: "GET", url: "/health/ready" });
      expect(ok.json()).toEqual({
        status: "ready",
        checks: { database: "ok", migrations: "ok", engine: "ok", events: "ok" },
      });
      await withEngine.app.runner?.stop();
      const stopped = await withEngine.app.inject({ method: "GET", url: "/health/ready" });
      expect(stopped.statusCode).toBe(503);
      expect(stopped.json()).toMatchObject({
        status: "not_ready",
        checks: { engine: "failing" },
        details: ["engine not running"],
      });
    } finally {
      await withEngine.close();
    }
  });
});

describe("metrics", () => {
  it("serves Prometheus metrics: request durations by route and the engine's state", async () => {
    await ctx.app.inject({ method: "GET", url: "/health" });
    const res = await ctx.app.inject({ method: "GET", url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toMatch(
      /mimic_http_request_duration_seconds_count\{method="GET",route="\/health",status="200"\} \d+/,
    );
    expect(res.body).toContain("mimic_engine_running 0");
    expect(res.body).toContain("mimic_process_cpu_user_seconds_total");
  });
});

describe("the OpenAPI document", () => {
  it("is served at /openapi.json with an operationId and a tag on every operation", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/openapi.json" });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe("3.1.0");
    const operations = Object.values(
      doc.paths as Record<string, Record<string, { operationId?: string; tags?: string[] }>>,
    ).flatMap((path) => Object.values(path));
    expect(operations.length).toBeGreaterThanOrEqual(18);
    const ids = operations.map((op) => op.operationId);
    expect(ids.every((id) => typeof id === "string" && id.length > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(operations.every((op) => op.tags?.length === 1)).toBe(true);
    for (const name of ["Persona", "Agent", "Error", "Pagination", "User", "ApiKey", "AccessToken"]) {
      expect(doc.components.schemas[name], name).toBeDefined();
    }
    expect(doc.paths["/api/personas/{id}"].get.responses["404"].content["application/json"].schema).toEqual({
      $ref: "#/components/schemas/Error",
    });
  });

  it("is committed up to date in packages/sdk/openapi.json (run `pnpm gen` if this fails)", async () => {
    const committed = readFileSync(
      fileURLToPath(new URL("../../../packages/sdk/openapi.json", import.meta.url)),
      "utf8",
    );
    expect(
      committed === (await renderOpenApiDocument()),
      "packages/sdk/openapi.json is stale: run `pnpm gen`",
    ).toBe(true);
  });
});

describe("interactive docs", () => {
  it("serves an HTML reference at /docs", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/docs" });
    const page =
      res.statusCode === 302
        ? await ctx.app.inject({ method: "GET", url: res.headers.location as string })
        : res;
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    expect(page.body).toMatch(/swagger/i);
  });
});
