import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, registerUser, type TestContext } from "./helpers.js";

let closed: TestContext;
let open: TestContext;
beforeAll(async () => {
  closed = await createTestApp();
  open = await createTestApp({ MIMIC_CORS_ORIGINS: "https://dashboard.example.com, https://qa.example.com" });
});
afterAll(async () => {
  await closed.close();
  await open.close();
});

const preflight = (ctx: TestContext, origin: string) =>
  ctx.app.inject({
    method: "OPTIONS",
    url: "/api/personas",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization,content-type",
    },
  });

describe("CORS", () => {
  it("allows no other origin unless configured", async () => {
    const res = await preflight(closed, "https://dashboard.example.com");
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("answers preflights for the configured origins only, and exposes the rate-limit and request-id headers", async () => {
    const ok = await preflight(open, "https://qa.example.com");
    expect(ok.statusCode).toBe(204);
    expect(ok.headers["access-control-allow-origin"]).toBe("https://qa.example.com");
    expect(String(ok.headers["access-control-allow-headers"])).toContain("authorization");
    expect(
      (await preflight(open, "https://evil.example.com")).headers["access-control-allow-origin"],
    ).toBeUndefined();

    const user = await registerUser(open.app);
    const res = await open.app.inject({
      method: "GET",
      url: "/api/auth/me",
      headers: { ...user.headers, origin: "https://dashboard.example.com" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBe("https://dashboard.example.com");
    expect(String(res.headers["access-control-expose-headers"])).toContain("x-ratelimit-remaining");
    expect(String(res.headers["access-control-expose-headers"])).toContain("x-request-id");
  });
});
