// `mimic run` with no server configured: the CLI starts a throwaway Mimic in process and runs the suite against
// real bots on loopback — one that does its job, one that answers "I like turtles." — then writes every report.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { XMLParser } from "fast-xml-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Bot, startBot, supportReply, turtleReply } from "./helpers/bots.js";
import { type CliResult, FAST_CONFIG, folder, mimic } from "./helpers/cli.js";

const SUITE = `name: shop
agents:
  support-bot: { type: webhook, config: { webhook_url: "\${GOOD_BOT}" } }
  turtle-bot: { type: webhook, config: { webhook_url: "\${TURTLE_BOT}" } }
personas:
  late-parcel:
    prompt: You ordered headphones ten days ago and the parcel is late.
    goal: get a new delivery date
scenarios:
  - name: late parcel gets a new date
    persona: late-parcel
    agent: support-bot
    repeat: 2
    config: ${FAST_CONFIG}
    checks: [ { type: must_match, pattern: "delivery date" } ]
  - name: turtles never help
    persona: late-parcel
    agent: turtle-bot
    repeat: 2
    config: ${FAST_CONFIG}
    checks: [ { type: must_match, pattern: "delivery date" } ]
`;

interface JUnitCase {
  "@_classname": string;
  "@_name": string;
  "@_time": string;
  failure?: { "@_message": string; "#text": string };
}
interface JUnitSuite {
  "@_name": string;
  "@_tests": string;
  "@_failures": string;
  "@_errors": string;
  "@_time": string;
  testcase: JUnitCase[];
}

let good: Bot;
let turtle: Bot;
let cwd: string;
let result: CliResult;

beforeAll(async () => {
  [good, turtle] = await Promise.all([startBot(supportReply), startBot(turtleReply)]);
  cwd = await folder({ "mimic.yaml": SUITE });
  result = await mimic(
    [
      "run",
      "--junit",
      "reports/junit.xml",
      "--json",
      "reports/report.json",
      "--markdown",
      "summary.md",
      "-v",
    ],
    cwd,
    { GOOD_BOT: good.url, TURTLE_BOT: turtle.url, CI: "true" },
  );
});

afterAll(async () => {
  await Promise.all([good?.close(), turtle?.close()]);
});

describe("mimic run in embedded mode", () => {
  it("exits 1 when a scenario fails, after running both against the real bots", () => {
    expect(result.stderr).toBe("");
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("starting an embedded Mimic");
    expect(good.received).toBeGreaterThan(0);
    expect(turtle.received).toBeGreaterThan(0);
  });

  it("prints progress lines, the transcripts (--verbose), the table and the summary", () => {
    const out = result.stdout;
    expect(out).toMatch(/✓ late parcel gets a new date #\d passed in [\d.]+ s — \d\/2 done/);
    expect(out).toMatch(
      /✗ turtles never help #\d failed in [\d.]+ s: .*an agent message matches \/delivery date\/i/,
    );
    expect(out).toMatch(/\[late parcel gets a new date #1\] persona: /);
    expect(out).toMatch(/\[turtles never help #1\] agent: I like turtles\. \(\d+ ms\)/);
    expect(out).toMatch(/│ ✓ late parcel gets a new date\s+│\s+2 │\s+100% │\s+1\.00 │\s+\d+ ms │ —/);
    expect(out).toMatch(/│ ✗ turtles never help\s+│\s+2 │\s+0% │\s+0\.00 │/);
    expect(out).toContain("✗ 1 of 2 scenarios failed — 4 runs: 2 passed, 2 failed");
    expect(out).toContain("JUnit report: reports/junit.xml");
  });

  it("writes a JUnit report with one testsuite per scenario and a failure naming the failed check", async () => {
    const xml = await readFile(join(cwd, "reports/junit.xml"), "utf8");
    const parsed = new XMLParser({
      ignoreAttributes: false,
      isArray: (name) => name === "testsuite" || name === "testcase",
    }).parse(xml);
    const root = parsed.testsuites;
    expect(root["@_name"]).toBe("shop");
    expect(root["@_tests"]).toBe("4");
    expect(root["@_failures"]).toBe("2");
    expect(root["@_errors"]).toBe("0");
    const [goodSuite, turtleSuite] = root.testsuite as [JUnitSuite, JUnitSuite];

    expect(goodSuite["@_name"]).toBe("late parcel gets a new date");
    expect(goodSuite["@_tests"]).toBe("2");
    expect(goodSuite["@_failures"]).toBe("0");
    expect(goodSuite.testcase.map((c) => c["@_name"])).toEqual([
      "late parcel gets a new date #1",
      "late parcel gets a new date #2",
    ]);
    expect(goodSuite.testcase.every((c) => c.failure === undefined)).toBe(true);
    expect(goodSuite.testcase[0]!["@_classname"]).toBe("shop/late parcel gets a new date");
    expect(Number(goodSuite.testcase[0]!["@_time"])).toBeGreaterThan(0);

    expect(turtleSuite["@_tests"]).toBe("2");
    expect(turtleSuite["@_failures"]).toBe("2");
    for (const testcase of turtleSuite.testcase) {
      expect(testcase.failure!["@_message"]).toContain("an agent message matches /delivery date/i");
      expect(testcase.failure!["#text"]).toContain(
        "✗ an agent message matches /delivery date/i: no agent message matches",
      );
      expect(testcase.failure!["#text"]).toContain("agent: I like turtles.");
    }
  });

  it("writes a JSON report that agrees with it", async () => {
    const report = JSON.parse(await readFile(join(cwd, "reports/report.json"), "utf8"));
    expect(report.passed).toBe(false);
    expect(report.server).toEqual({ mode: "embedded", baseUrl: null });
    expect(report.totals).toMatchObject({
      scenarios: 2,
      scenariosPassed: 1,
      runs: 4,
      runsPassed: 2,
      runsFailed: 2,
    });
    const [goodScenario, turtleScenario] = report.scenarios;
    expect(goodScenario).toMatchObject({ name: "late parcel gets a new date", passed: true, passRate: 1 });
    expect(goodScenario.passHatK).toEqual({ k: 2, value: 1 });
    expect(goodScenario.latency.p95).toBeGreaterThanOrEqual(0);
    for (const run of goodScenario.runs) {
      expect(run).toMatchObject({ outcome: "passed", status: "completed" });
      expect(run.sessionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(run.result.passed).toBe(true);
      expect(run.latencies.length).toBeGreaterThan(0);
      expect(run.transcript.map((m: { content: string }) => m.content).join("\n")).toContain(
        "new delivery date is Thursday",
      );
    }
    expect(turtleScenario).toMatchObject({ passed: false, passRate: 0, passedRuns: 0, failedRuns: 2 });
    expect(turtleScenario.failedChecks).toContainEqual({
      name: "an agent message matches /delivery date/i",
      count: 2,
    });
    for (const run of turtleScenario.runs) expect(run.result.passed).toBe(false);
  });

  it("writes a Markdown summary for a pull request", async () => {
    const markdown = await readFile(join(cwd, "summary.md"), "utf8");
    expect(markdown).toContain("## ❌ Mimic: 1 of 2 scenarios failed");
    expect(markdown).toMatch(/\| ✅ \| late parcel gets a new date \| 2 \| 100% \|/);
    expect(markdown).toMatch(
      /\| ❌ \| turtles never help \| 2 \| 0% \| .*an agent message matches \/delivery date\/i ×2/,
    );
  });
});
