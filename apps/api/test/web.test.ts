// The dashboard's build served at / (plugins/web.ts): pages fall back to index.html, the API and its documents
// answer as they always do, and nothing is served when there is no build.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPagePath } from "../src/plugins/web.js";
import { createTestApp, type TestContext } from "./helpers.js";

const INDEX =
  '<!doctype html><html lang="en"><head><title>Mimic</title></head><body><div id="root"></div></body></html>';

describe("the dashboard at /", () => {
  let ctx: TestContext;
  let webDir: string;

  beforeAll(async () => {
    webDir = await mkdtemp(join(tmpdir(), "mimic-web-test-"));
    await mkdir(join(webDir, "assets"));
    await writeFile(join(webDir, "index.html"), INDEX);
    await writeFile(join(webDir, "assets", "index-AbC123.js"), "console.log('mimic');");
    await writeFile(join(webDir, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
    ctx = await createTestApp({ MIMIC_WEB_DIR: webDir });
  });

  afterAll(async () => {
    await ctx.close();
    await rm(webDir, { recursive: true, force: true });
  });

  it("serves index.html at / with the SPA's content security policy, never cached stale", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/html/);
    expect(res.body).toBe(INDEX);
    expect(res.headers["content-security-policy"]).toMatch(/default-src 'self'/);
    expect(res.headers["content-security-policy"]).toMatch(/frame-ancestors 'none'/);
    expect(res.headers["content-security-policy"]).toMatch(/media-src 'self' blob:/);
    expect(res.headers["cache-control"]).toBe("no-cache");
  });

  it("answers every page path of the SPA with index.html, so deep links and reloads work", async () => {
    for (const url of [
      "/sessions",
      "/sessions/5f0c7a52-8a57-4c1b-9d7e-2f6a3b1c0d9e",
      "/settings/api-keys?x=1",
    ]) {
      const res = await ctx.app.inject({ method: "GET", url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body, url).toBe(INDEX);
    }
    expect((await ctx.app.inject({ method: "HEAD", url: "/agents" })).statusCode).toBe(200);
  });

  it("serves hashed assets for good, and public files", async () => {
    const asset = await ctx.app.inject({ method: "GET", url: "/assets/index-AbC123.js" });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["content-type"]).toMatch(/javascript/);
    expect(asset.headers["cache-control"]).toMatch(/immutable/);
    const icon = await ctx.app.inject({ method: "GET", url: "/favicon.svg" });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers["content-type"]).toMatch(/^image\/svg\+xml/);
  });

  it("keeps missing files and unknown API routes JSON 404s", async () => {
    for (const url of ["/assets/missing.js", "/api/nope", "/api", "/health/nope", "/robots.txt"]) {
      const res = await ctx.app.inject({ method: "GET", url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json(), url).toMatchObject({ error: { code: "RESOURCE_NOT_FOUND" } });
    }
  });

  it("serves nothing outside the build", async () => {
    const res = await ctx.app.inject({ method: "GET", url: "/assets/..%2f..%2fetc%2fpasswd" });
    expect(res.statusCode).not.toBe(200);
    expect(res.body).not.toMatch(/root:/);
  });

  it("leaves the API, health, documents and their policies as they were", async () => {
    const health = await ctx.app.inject({ method: "GET", url: "/health" });
    expect(health.statusCode).toBe(200);
    expect(health.json()).toMatchObject({ status: "ok" });
    const me = await ctx.app.inject({ method: "GET", url: "/api/auth/me" });
    expect(me.statusCode).toBe(401);
    expect(me.headers["content-security-policy"]).toMatch(/default-src 'none'/);
    const document = await ctx.app.inject({ method: "GET", url: "/openapi.json" });
    expect(document.statusCode).toBe(200);
    const paths = Object.keys(document.json().paths);
    expect(paths.some((path) => path === "/" || path.startsWith("/assets") || path.includes("*"))).toBe(
      false,
    );
    expect((await ctx.app.inject({ method: "GET", url: "/docs" })).statusCode).toBeLessThan(400);
  });
});

describe("without a build", () => {
  it("answers / with the API's 404, as before", async () => {
    const ctx = await createTestApp();
    try {
      const res = await ctx.app.inject({ method: "GET", url: "/" });
      expect(res.statusCode).toBe(404);
      expect(res.json()).toMatchObject({ error: { code: "RESOURCE_NOT_FOUND" } });
    } finally {
      await ctx.close();
    }
  });
});

describe("isPagePath", () => {
  it("takes the SPA's paths and leaves the server's own and file names alone", () => {
    expect(isPagePath("/")).toBe(true);
    expect(isPagePath("/sessions/abc?page=2")).toBe(true);
    expect(isPagePath("/api/anything")).toBe(false);
    expect(isPagePath("/apiary")).toBe(true);
    expect(isPagePath("/docs/json")).toBe(false);
    expect(isPagePath("/whatsapp/v20.0/123/messages")).toBe(false);
    expect(isPagePath("/assets/app.js")).toBe(false);
  });
});
