// The report views on made-up runs: the figures (pass^k, percentiles), JUnit XML that survives any text a bot
// may send, and failures tolerated by --min-pass-rate reported as skipped so the XML agrees with the exit code.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { describe, expect, it } from "vitest";
import { renderJUnit } from "../src/junit.js";
import { renderMarkdown } from "../src/markdown.js";
import { passHatK, percentile, type Report, scenarioReport, totalsOf } from "../src/report.js";
import type { RunResult } from "../src/runner.js";
import type { ScenarioSpec } from "../src/suite.js";

const NASTY = `<b>"Tom & Jerry's"</b> ]]> \u0000\u0007 bell, 😀 and a\nnewline`;

function run(n: number, passed: boolean, extra: Partial<RunResult> = {}): RunResult {
  return {
    scenario: NASTY,
    run: n,
    sessionId: `00000000-0000-4000-8000-00000000000${n}`,
    outcome: passed ? "passed" : "failed",
    status: "completed",
    endReason: passed ? "goal_reached" : "message_limit",
    reason: passed ? "goal reached" : "message limit reached",
    result: { passed, checks: [] },
    duration: 1.5,
    latencies: [100, 200, 300],
    messages: [
      {
        id: "m1",
        sessionId: "s",
        senderType: "persona",
        content: NASTY,
        timestamp: "2026-01-01T00:00:00Z",
        latencyMs: null,
      },
      {
        id: "m2",
        sessionId: "s",
        senderType: "agent",
        content: NASTY,
        timestamp: "2026-01-01T00:00:01Z",
        latencyMs: 120,
      },
    ],
    failedChecks: passed
      ? []
      : [{ name: `an agent message matches /${NASTY}/i`, type: "must_match", detail: NASTY }],
    summary: passed ? "" : `an agent message matches: ${NASTY}`,
    ...extra,
  };
}

function reportOf(runs: RunResult[], minPassRate: number): Report {
  const spec: ScenarioSpec = {
    name: NASTY,
    persona: { key: "p" },
    agent: { key: "a" },
    repeat: runs.length,
    origin: { file: "mimic.yaml", line: 1, field: "scenarios[0]" },
  };
  const scenarios = [scenarioReport(spec, { personaId: "p-id", agentId: "a-id" }, runs, minPassRate)];
  return {
    tool: { name: "@mimic/cli", version: "0.0.0" },
    suite: { name: `suite ${NASTY}`, files: ["mimic.yaml"] },
    options: { concurrency: 4, minPassRate },
    server: { mode: "server", baseUrl: "http://mimic.example" },
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:00:05.000Z",
    duration: 5,
    passed: scenarios.every((s) => s.passed),
    totals: totalsOf(scenarios),
    scenarios,
  };
}

const parse = (xml: string) =>
  new XMLParser({
    ignoreAttributes: false,
    isArray: (name) => ["testsuite", "testcase"].includes(name),
  }).parse(xml);

describe("figures", () => {
  it("pass^k is C(passed,k)/C(runs,k)", () => {
    expect(passHatK(3, 3, 3)).toBe(1);
    expect(passHatK(2, 3, 3)).toBe(0);
    expect(passHatK(4, 5, 2)).toBeCloseTo(6 / 10);
    expect(passHatK(0, 0, 0)).toBe(0);
  });

  it("percentiles interpolate like percentile_cont", () => {
    expect(percentile([100, 200, 300, 400], 0.5)).toBe(250);
    expect(percentile([100, 200, 300, 400, 500], 0.95)).toBeCloseTo(480);
    expect(percentile([42], 0.95)).toBe(42);
  });
});

describe("JUnit", () => {
  it("is well-formed whatever the bot says, and gives back the text it was given", () => {
    const xml = renderJUnit(reportOf([run(1, true), run(2, false)], 1));
    expect(XMLValidator.validate(xml)).toBe(true);
    const root = parse(xml).testsuites;
    expect(root["@_tests"]).toBe("2");
    expect(root["@_failures"]).toBe("1");
    const [passing, failing] = root.testsuite[0].testcase;
    expect(passing.failure).toBeUndefined();
    // Control characters cannot be carried by XML 1.0: they become U+FFFD; the rest comes back as it was.
    const expected = NASTY.replace("\u0000", "\uFFFD").replace("\u0007", "\uFFFD");
    expect(failing["@_name"]).toBe(`${expected} #2`);
    expect(failing.failure["#text"]).toContain(`agent: ${expected} (120 ms)`);
    expect(failing.failure["@_message"]).toContain('<b>"Tom & Jerry\'s"</b> ]]>');
    expect(failing.failure["@_message"]).not.toContain("\n");
  });

  it("reports failures tolerated by --min-pass-rate as skipped, so the XML agrees with the exit code", () => {
    const report = reportOf([run(1, true), run(2, true), run(3, false)], 0.6);
    expect(report.passed).toBe(true);
    const root = parse(renderJUnit(report)).testsuites;
    expect(root["@_failures"]).toBe("0");
    expect(root["@_skipped"]).toBe("1");
    const tolerated = root.testsuite[0].testcase[2];
    expect(tolerated.failure).toBeUndefined();
    expect(tolerated.skipped["@_message"]).toContain("tolerated");
  });

  it("counts runs that could not start as errors", () => {
    const errored = run(1, false, {
      outcome: "error",
      sessionId: undefined,
      messages: [],
      failedChecks: [],
      error: "422 VALIDATION_ERROR: bad",
      summary: "could not start the session: 422 VALIDATION_ERROR: bad",
    });
    const root = parse(renderJUnit(reportOf([errored], 1))).testsuites;
    expect(root["@_errors"]).toBe("1");
    expect(root.testsuite[0].testcase[0].error["@_message"]).toContain("could not start the session");
  });
});

describe("Markdown", () => {
  it("keeps the table intact when names contain pipes and newlines", () => {
    const markdown = renderMarkdown(reportOf([run(1, false, { scenario: "a | b" })], 1));
    const row = markdown.split("\n").find((line) => line.startsWith("| ❌"))!;
    expect(row).toContain("newline");
    expect(row.split(/(?<!\\)\|/).length).toBe(9);
  });
});
