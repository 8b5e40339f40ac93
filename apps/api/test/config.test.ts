import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: "development",
      host: "127.0.0.1",
      port: 4000,
      databaseUrl: undefined,
      allowRegistration: true,
      testToken: undefined,
      rateLimit: { user: 1000, anonymous: 100, windowSeconds: 3600 },
      bodyLimit: 1_048_576,
      jwt: { expiresIn: 3600 },
    });
    expect(config.dataDir).toMatch(/\.mimic\/data$/);
  });

  it("reads every variable", () => {
    const config = loadConfig({
      PORT: "8080",
      HOST: "0.0.0.0",
      DATABASE_URL: "postgres://u:p@db:5432/mimic",
      MIMIC_DATA_DIR: "/var/lib/mimic",
      MIMIC_ALLOW_REGISTRATION: "false",
      MIMIC_RATE_LIMIT_USER: "50",
      MIMIC_JWT_EXPIRES_IN: "600",
    });
    expect(config).toMatchObject({
      port: 8080,
      host: "0.0.0.0",
      databaseUrl: "postgres://u:p@db:5432/mimic",
      dataDir: "/var/lib/mimic",
      allowRegistration: false,
      rateLimit: { user: 50 },
      jwt: { expiresIn: 600 },
    });
  });

  it("lists every bad value at once, without echoing secrets", () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: "x",
        DATABASE_URL: "mysql://nope",
        MIMIC_JWT_SECRET: "tooshort",
        MIMIC_ALLOW_REGISTRATION: "yes",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    for (const name of ["PORT", "DATABASE_URL", "MIMIC_JWT_SECRET", "MIMIC_ALLOW_REGISTRATION"])
      expect(problems).toContain(name);
    expect(problems).not.toContain("tooshort");
  });

  it("refuses production without a JWT secret, and the test token in production", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(/MIMIC_JWT_SECRET/);
    expect(() =>
      loadConfig({
        NODE_ENV: "production",
        MIMIC_JWT_SECRET: "s".repeat(40),
        MIMIC_TEST_TOKEN: "test-token-123",
      }),
    ).toThrow(/MIMIC_TEST_TOKEN/);
    expect(
      loadConfig({
        NODE_ENV: "production",
        MIMIC_JWT_SECRET: "s".repeat(40),
        MIMIC_SECRET_KEY: Buffer.alloc(32, 7).toString("base64"),
      }).env,
    ).toBe("production");
  });
});
