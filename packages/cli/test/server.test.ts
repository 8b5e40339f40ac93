// `mimic run` against a Mimic server (--base-url + MIMIC_API_KEY): a real API with its engine on a loopback port,
// over its own database (PGlite, or PostgreSQL when DATABASE_URL is set), and real bots. Each test signs up its
// own user, so tests cannot see each other's personas and agents.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Bot, startBot, supportReply, turtleReply } from "./helpers/bots.js";
import { FAST_CONFIG, folder, mimic } from "./helpers/cli.js";
import { startServer, type TestServer, userWithApiKey } from "./helpers/server.js";

let server: TestServer;
let good: Bot;
let turtle: Bot;

beforeAll(async () => {
  [server, good, turtle] = await Promise.all([startServer(), startBot(supportReply), startBot(turtleReply)]);
});

afterAll(async () => {
  await Promise.all([server?.close(), good?.close(), turtle?.close()]);
});

/** A suite with one scenario; its bot is `${BOT_URL}` unless `bot` is given. */
const BOT_VARIABLE = "$" + "{BOT_URL}";
const suite = (options: { prompt?: string; bot?: string; scenario?: string } = {}) => `agents:
  support-bot: { type: webhook, config: { webhook_url: "${options.bot ?? BOT_VARIABLE}" } }
personas:
  late-parcel:
    prompt: ${options.prompt ?? "You ordered headphones ten days ago and the parcel is late."}
    goal: get a new delivery date
scenarios:
  - name: late parcel gets a new date
    persona: late-parcel
    agent: support-bot
    config: ${FAST_CONFIG}
${options.scenario ?? ""}`;

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe("mimic run against a server", () => {
  it("runs with --base-url and MIMIC_API_KEY, and the sessions stay on the server, tagged", async () => {
    const { client, apiKey } = await userWithApiKey(server.baseUrl);
    const cwd = await folder({ "mimic.yaml": suite() });
    const { code, stdout, stderr } = await mimic(
      ["run", "--base-url", server.baseUrl, "--json", "report.json"],
      cwd,
      { MIMIC_API_KEY: apiKey, BOT_URL: good.url },
    );
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).not.toContain("embedded");
    expect(stdout).toContain("✓ All 1 scenario passed");

    const report = JSON.parse(await readFile(join(cwd, "report.json"), "utf8"));
    expect(report.server).toEqual({ mode: "server", baseUrl: server.baseUrl });
    const session = await client.sessions.get(report.scenarios[0].runs[0].sessionId);
    expect(session.result?.passed).toBe(true);
    expect(session.metadata).toMatchObject({
      "mimic.suite": "mimic",
      "mimic.scenario": "late parcel gets a new date",
      "mimic.run": 1,
    });
  });

  it("MIMIC_BASE_URL works like --base-url", async () => {
    const { apiKey } = await userWithApiKey(server.baseUrl);
    const cwd = await folder({ "mimic.yaml": suite() });
    const { code } = await mimic(["run"], cwd, {
      MIMIC_BASE_URL: server.baseUrl,
      MIMIC_API_KEY: apiKey,
      BOT_URL: good.url,
    });
    expect(code).toBe(0);
  });

  it("exits 3 when the API key is refused", async () => {
    const cwd = await folder({ "mimic.yaml": suite() });
    const { code, stderr } = await mimic(["run", "--base-url", server.baseUrl], cwd, {
      MIMIC_API_KEY: "mk_not-a-real-key-0000000000000000",
      BOT_URL: good.url,
    });
    expect(code).toBe(3);
    expect(stderr).toContain(`Mimic at ${server.baseUrl} refused the credentials (401`);
  });

  it("exits 3 when the server is unreachable", async () => {
    const cwd = await folder({ "mimic.yaml": suite() });
    const url = `http://127.0.0.1:${await closedPort()}`;
    const { code, stderr } = await mimic(["run", "--base-url", url], cwd, {
      MIMIC_API_KEY: "mk_whatever",
      BOT_URL: good.url,
    });
    expect(code).toBe(3);
    expect(stderr).toContain(`cannot reach Mimic at ${url}`);
  });

  it("exits 2 when a scenario names an id the server does not have", async () => {
    const { apiKey } = await userWithApiKey(server.baseUrl);
    const cwd = await folder({
      "mimic.yaml": suite().replace("persona: late-parcel", "persona: 00000000-0000-4000-8000-000000000000"),
    });
    const { code, stderr } = await mimic(["run", "--base-url", server.baseUrl], cwd, {
      MIMIC_API_KEY: apiKey,
      BOT_URL: good.url,
    });
    expect(code).toBe(2);
    expect(stderr).toContain("no persona with id 00000000-0000-4000-8000-000000000000 on the server");
  });
});

describe("syncing the suite's personas and agents", () => {
  it("keeps one persona and one agent per key across runs, and updates them when the suite changes", async () => {
    const { client, apiKey } = await userWithApiKey(server.baseUrl);
    const env = { MIMIC_API_KEY: apiKey, BOT_URL: good.url };
    const cwd = await folder({ "mimic.yaml": suite() });
    expect((await mimic(["run", "--base-url", server.baseUrl], cwd, env)).code).toBe(0);
    const other = await startBot(supportReply);
    try {
      const edited = await folder({
        "mimic.yaml": suite({
          prompt: "You ordered a keyboard ten days ago and the parcel is late.",
          bot: other.url,
        }),
      });
      const second = await mimic(["run", "--base-url", server.baseUrl], edited, env);
      expect(second.code).toBe(0);
      expect(second.stdout).toContain("0 created, 2 updated");
      expect(other.received).toBeGreaterThan(0);
    } finally {
      await other.close();
    }

    const personas = (await client.personas.list({ limit: 100 })).data;
    const agents = (await client.agents.list({ limit: 100 })).data;
    expect(personas.filter((p) => p.name === "late-parcel")).toHaveLength(1);
    expect(agents.filter((a) => a.name === "support-bot")).toHaveLength(1);
    expect(personas).toHaveLength(1);
    expect(agents).toHaveLength(1);
    expect(personas[0]!.prompt).toBe("You ordered a keyboard ten days ago and the parcel is late.");
    expect(agents[0]!.config.webhook_url).toBe(other.url);
  });

  it("uses an existing persona named by id", async () => {
    const { client, apiKey } = await userWithApiKey(server.baseUrl);
    const persona = await client.personas.create({
      name: "Made in the dashboard",
      prompt: "You ordered headphones ten days ago and the parcel is late.",
      goal: "get a new delivery date",
    });
    const cwd = await folder({
      "mimic.yaml": suite().replace("persona: late-parcel", `persona: ${persona.id}`),
    });
    const { code } = await mimic(["run", "--base-url", server.baseUrl], cwd, {
      MIMIC_API_KEY: apiKey,
      BOT_URL: good.url,
    });
    expect(code).toBe(0);
    const { data } = await client.sessions.list({ personaId: persona.id });
    expect(data).toHaveLength(1);
  });
});

describe("verdicts", () => {
  // Depends on the API's default checks (a persona with a goal implies goal_reached; all_answered is a default).
  it("turtle fails by default", async () => {
    const { apiKey } = await userWithApiKey(server.baseUrl);
    const cwd = await folder({ "mimic.yaml": suite() });
    const { code, stdout } = await mimic(["run", "--base-url", server.baseUrl], cwd, {
      MIMIC_API_KEY: apiKey,
      BOT_URL: turtle.url,
    });
    expect(stdout).toContain("✗ 1 of 1 scenario failed");
    expect(code).toBe(1);
  });

  // Depends on the API's inheritChecks: false leaves out the persona's default checks.
  it("inheritChecks: false runs only the scenario's own checks, not the persona's", async () => {
    const { apiKey } = await userWithApiKey(server.baseUrl);
    const persona =
      "    goal: get a new delivery date\n    checks: [ { type: must_match, pattern: refund } ]\n";
    const cwd = await folder({
      "mimic.yaml": `${suite({ scenario: "    inheritChecks: false\n" }).replace("    goal: get a new delivery date\n", persona)}  - name: inherits
    persona: late-parcel
    agent: support-bot
    config: ${FAST_CONFIG}
`,
    });
    const { code, stderr } = await mimic(["run", "--base-url", server.baseUrl, "--json", "r.json"], cwd, {
      MIMIC_API_KEY: apiKey,
      BOT_URL: good.url,
    });
    expect(stderr).toBe("");
    expect(code).toBe(1);
    const report = JSON.parse(await readFile(join(cwd, "r.json"), "utf8"));
    const [own, inherits] = report.scenarios;
    expect(own).toMatchObject({ name: "late parcel gets a new date", passed: true });
    expect(inherits).toMatchObject({ name: "inherits", passed: false });
    expect(inherits.failedChecks).toContainEqual({ name: "an agent message matches /refund/i", count: 1 });
  });

  it("--min-pass-rate lets a scenario pass with some failing runs", async () => {
    const { apiKey } = await userWithApiKey(server.baseUrl);
    const cwd = await folder({
      "mimic.yaml": `${suite()}    checks: [ { type: must_match, pattern: "delivery date" } ]
  - name: turtles
    persona: late-parcel
    agent: turtle-bot
    config: ${FAST_CONFIG}
    checks: [ { type: must_match, pattern: "delivery date" } ]
`.replace(
        "personas:",
        `  turtle-bot: { type: webhook, config: { webhook_url: "${turtle.url}" } }\npersonas:`,
      ),
    });
    const env = { MIMIC_API_KEY: apiKey, BOT_URL: good.url };
    const strict = await mimic(["run", "--base-url", server.baseUrl, "-c", "2"], cwd, env);
    expect(strict.code).toBe(1);
    // Per scenario: "turtles" passes none of its runs, whatever the minimum above 0.
    const lenient = await mimic(["run", "--base-url", server.baseUrl, "--min-pass-rate", "0"], cwd, env);
    expect(lenient.code).toBe(0);
  });
});

describe("the mimic executable", () => {
  it("runs as a child process, prints the table and exits with the suite's code", async () => {
    const { apiKey } = await userWithApiKey(server.baseUrl);
    const cwd = await folder({ "mimic.yaml": suite() });
    const pkg = fileURLToPath(new URL("..", import.meta.url));
    const child = spawn(
      join(pkg, "node_modules/.bin/tsx"),
      ["--conditions=@mimic/source", "src/bin.ts", "run", "--base-url", server.baseUrl],
      {
        cwd: pkg,
        // MIMIC_CWD is how `pnpm mimic` passes the caller's directory through.
        env: { ...process.env, MIMIC_CWD: cwd, MIMIC_API_KEY: apiKey, BOT_URL: good.url, CI: "true" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain('Suite "mimic" (mimic.yaml): 1 scenario, 1 run');
    expect(stdout).toMatch(/✓ late parcel gets a new date #1 passed in [\d.]+ s/);
    expect(stdout).toContain("✓ All 1 scenario passed");
  });
});
