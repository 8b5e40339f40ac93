// The JUnit XML report (--junit): what GitHub Actions (mikepenz/action-junit-report, dorny/test-reporter),
// GitLab (artifacts:reports:junit) and Jenkins (junit step) read. One <testsuite> per scenario, one <testcase>
// per run. A failed run in a scenario that still met --min-pass-rate is reported <skipped> with the reason, so
// the report agrees with the exit code (a reporter would otherwise fail the build on a tolerated failure).
import { create } from "xmlbuilder2";
import { percent, type Report, type ScenarioReport, transcriptLine } from "./report.js";
import type { RunResult } from "./runner.js";

const TRANSCRIPT_EXCERPT = 10;

const seconds = (s: number) => s.toFixed(3);

/** Characters XML 1.0 cannot carry (control characters, lone surrogates) become U+FFFD. */
const INVALID_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const clean = (text: string) => text.replace(INVALID_XML, "\uFFFD");
/** Attribute values on one line, bounded: reporters show them as titles. */
const oneLine = (text: string, max = 500) => {
  const flat = clean(text).replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

function failureText(run: RunResult): string {
  const lines: string[] = [];
  if (run.failedChecks.length > 0) {
    lines.push("Failed checks:");
    for (const check of run.failedChecks) lines.push(`  ✗ ${check.name}: ${check.detail}`);
  } else lines.push(run.summary);
  if (run.sessionId) {
    lines.push(
      "",
      `Session ${run.sessionId}: ${run.status ?? "unknown"}${run.reason ? ` (${run.reason})` : ""}`,
    );
  }
  if (run.messages.length > 0) {
    const excerpt = run.messages.slice(-TRANSCRIPT_EXCERPT);
    lines.push(
      "",
      excerpt.length < run.messages.length
        ? `Transcript (last ${excerpt.length} of ${run.messages.length} messages):`
        : "Transcript:",
    );
    for (const message of excerpt) lines.push(`  ${transcriptLine(message)}`);
  }
  return clean(lines.join("\n"));
}

function runType(run: RunResult): string {
  if (run.outcome === "timed_out") return "TimedOut";
  if (run.failedChecks.length > 0) return "CheckFailed";
  return run.status === "failed" ? "SessionFailed" : "NoVerdict";
}

interface Counts {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
}

function countsOf(scenario: ScenarioReport): Counts {
  const notPassed = scenario.runs.filter((r) => r.outcome !== "passed" && r.outcome !== "error").length;
  return {
    tests: scenario.runs.length,
    failures: scenario.passed ? 0 : notPassed,
    errors: scenario.passed ? 0 : scenario.erroredRuns,
    skipped: scenario.passed ? notPassed + scenario.erroredRuns : 0,
  };
}

export function renderJUnit(report: Report): string {
  const all = report.scenarios.map(countsOf);
  const total = (key: keyof Counts) => all.reduce((n, c) => n + c[key], 0);
  const doc = create({ version: "1.0", encoding: "UTF-8" });
  const root = doc.ele("testsuites", {
    name: clean(report.suite.name),
    tests: String(total("tests")),
    failures: String(total("failures")),
    errors: String(total("errors")),
    skipped: String(total("skipped")),
    time: seconds(report.duration),
    timestamp: report.startedAt.slice(0, 19),
  });
  report.scenarios.forEach((scenario, index) => {
    const counts = all[index]!;
    const suite = root.ele("testsuite", {
      name: clean(scenario.name),
      tests: String(counts.tests),
      failures: String(counts.failures),
      errors: String(counts.errors),
      skipped: String(counts.skipped),
      time: seconds(scenario.duration),
      timestamp: report.startedAt.slice(0, 19),
    });
    const properties = suite.ele("properties");
    const property = (name: string, value: string) =>
      properties.ele("property", { name, value: clean(value) });
    property("persona", scenario.persona.ref);
    property("agent", scenario.agent.ref);
    property("passRate", percent(scenario.passRate));
    property("minPassRate", percent(report.options.minPassRate));
    property(`pass^${scenario.passHatK.k}`, scenario.passHatK.value.toFixed(2));
    if (scenario.latency) property("p95ReplyLatencyMs", String(scenario.latency.p95));

    for (const run of scenario.runs) {
      const testcase = suite.ele("testcase", {
        classname: clean(`${report.suite.name}/${scenario.name}`),
        name: clean(`${scenario.name} #${run.run}`),
        time: seconds(run.duration),
      });
      if (run.outcome === "passed") {
        // nothing: a passing testcase is an empty element
      } else if (scenario.passed) {
        testcase.ele("skipped", {
          message: oneLine(
            `run failed, tolerated: the scenario passed with ${percent(scenario.passRate)} ≥ --min-pass-rate ${percent(report.options.minPassRate)} — ${run.summary}`,
          ),
        });
      } else if (run.outcome === "error") {
        testcase.ele("error", { message: oneLine(run.summary), type: "ApiError" }).txt(failureText(run));
      } else {
        testcase.ele("failure", { message: oneLine(run.summary), type: runType(run) }).txt(failureText(run));
      }
      if (run.sessionId) {
        testcase
          .ele("system-out")
          .txt(
            clean(
              `session ${run.sessionId}${report.server.baseUrl ? ` (${report.server.baseUrl}/api/sessions/${run.sessionId})` : ""}: ${run.status ?? "unknown"}${run.reason ? `, ${run.reason}` : ""}, ${run.messages.length} messages in ${run.duration.toFixed(1)} s`,
            ),
          );
      }
    }
  });
  return `${doc.end({ prettyPrint: true })}\n`;
}
