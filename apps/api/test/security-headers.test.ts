import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, registerUser, type TestContext, type TestUser } from "./helpers.js";

let ctx: TestContext;
let user: TestUser;
beforeAll(async () => {
  ctx = await createTestApp({ MIMIC_RATE_LIMIT_ANON: "2" });
  user = await registerUser(ctx.app);
});
afterAll(() => ctx.close());

const get = (url: string, headers: Record<string, string> = {}, remoteAddress = "127.0.0.1") =>
  ctx.app.inject({ method: "GET", url, headers, remoteAddress });

describe("security headers", () => {
  it("sends nosniff and the API's headers on every kind of response, errors from early hooks included", async () => {
    const responses = {
      ok: await get("/api/personas", user.headers),
      unauthenticated: await get("/api/personas", {}, "203.0.113.9"),
      notFound: await get("/no/such/route", user.headers),
      invalid: await get("/api/personas?limit=0", user.headers),
      health: await get("/health"),
      openapi: await get("/openapi.json"),
      asyncapi: await get("/asyncapi.json"),
    };
    await get("/api/personas", {}, "203.0.113.9");
    const limited = await get("/api/personas", {}, "203.0.113.9");
    expect(limited.statusCode).toBe(429);
    expect(Object.values(responses).map((r) => r.statusCode)).toEqual([200, 401, 404, 422, 200, 200, 200]);
    for (const [name, res] of Object.entries({ ...responses, limited })) {
      expect(res.headers["x-content-type-options"], name).toBe("nosniff");
      expect(res.headers["x-frame-options"], name).toBe("SAMEORIGIN");
      expect(res.headers["referrer-policy"], name).toBe("no-referrer");
      // JSON loads nothing: the strictest policy.
      expect(res.headers["content-security-policy"], name).toBe(
        "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'",
      );
      expect(res.headers["x-powered-by"], name).toBeUndefined();
    }
  });

  it("marks every API response no-store, and leaves the public documents cacheable", async () => {
    for (const res of [await get("/api/personas", user.headers), await get("/api/auth/me", user.headers)]) {
      expect(res.headers["cache-control"]).toBe("no-store");
    }
    expect((await get("/api/personas", {}, "198.51.100.1")).headers["cache-control"]).toBe("no-store");
    expect((await get("/openapi.json")).headers["cache-control"]).toBeUndefined();
  });
});

describe("the interactive docs under those headers", () => {
  it("serve /docs as HTML whose scripts and styles all load, allowed by the page's own policy", async () => {
    const page = await get("/docs");
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    const csp = String(page.headers["content-security-policy"]);
    expect(csp).toMatch(/script-src 'self'/);
    expect(csp).toMatch(/style-src 'self'/);
    expect(csp).not.toMatch(/default-src 'none'/);

    const assets = [...page.body.matchAll(/<(script|link)[^>]+(?:src|href)="([^"]+)"/g)].map((m) => ({
      kind: m[1]!,
      url: new URL(m[2]!, "http://localhost/docs/").pathname,
    }));
    const scripts = assets.filter((a) => a.kind === "script");
    expect(scripts.length).toBeGreaterThanOrEqual(2);
    for (const asset of assets) {
      const res = await get(asset.url);
      expect(res.statusCode, asset.url).toBe(200);
      // With nosniff, a browser runs a script only when it is served as JavaScript (and a stylesheet as CSS).
      if (asset.kind === "script") expect(res.headers["content-type"], asset.url).toMatch(/javascript/);
      if (asset.url.endsWith(".css")) expect(res.headers["content-type"], asset.url).toMatch(/^text\/css/);
      expect(res.body.length, asset.url).toBeGreaterThan(100);
    }
    // The page then fetches the document it renders.
    const initializer = await get("/docs/static/swagger-initializer.js");
    const documentUrl = /url: resolveUrl\('([^']+)'\)/.exec(initializer.body)?.[1] ?? "./json";
    const document = await get(new URL(documentUrl, "http://localhost/docs/").pathname);
    expect(document.statusCode).toBe(200);
    expect(document.json().openapi).toBe("3.1.0");
  });
});
