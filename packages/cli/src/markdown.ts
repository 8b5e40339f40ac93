// The Markdown summary (--markdown): short enough for a pull-request comment or $GITHUB_STEP_SUMMARY — one row per
// scenario with ✅/❌, then the failed checks of the failing scenarios.
import { percent, type Report } from "./report.js";

/** Table cells: no pipes or line breaks, and nothing that starts HTML. */
const cell = (text: string) =>
  text
    .replace(/\|/g, "\\|")
    .replace(/[\r\n]+/g, " ")
    .replace(/</g, "&lt;");

export function renderMarkdown(report: Report): string {
  const { totals } = report;
  const lines: string[] = [];
  lines.push(
    report.passed
      ? `## ✅ Mimic: ${totals.scenarios} of ${totals.scenarios} scenarios passed`
      : `## ❌ Mimic: ${totals.scenariosFailed} of ${totals.scenarios} scenarios failed`,
    "",
    `Suite **${cell(report.suite.name)}** (${report.suite.files.map((f) => `\`${f}\``).join(", ")}) — ${totals.runs} runs: ${totals.runsPassed} passed, ${totals.runsFailed} failed${totals.runsErrored ? `, ${totals.runsErrored} errored` : ""} in ${report.duration.toFixed(1)} s. Minimum pass rate per scenario: ${percent(report.options.minPassRate)}.`,
    "",
    "| | Scenario | Runs | Pass rate | pass^k | p95 reply | Failed checks |",
    "|---|---|---:|---:|---:|---:|---|",
  );
  for (const s of report.scenarios) {
    const failed = s.failedChecks.map((c) => `${cell(c.name)} ×${c.count}`).join("<br>") || "—";
    lines.push(
      `| ${s.passed ? "✅" : "❌"} | ${cell(s.name)} | ${s.runs.length} | ${percent(s.passRate)} | ${s.passHatK.value.toFixed(2)} (k=${s.passHatK.k}) | ${s.latency ? `${s.latency.p95} ms` : "—"} | ${failed} |`,
    );
  }
  const failing = report.scenarios.filter((s) => !s.passed);
  if (failing.length > 0) {
    lines.push("", "<details><summary>Why runs failed</summary>", "");
    for (const s of failing) {
      lines.push(`### ❌ ${cell(s.name)}`, "");
      for (const run of s.runs.filter((r) => r.outcome !== "passed")) {
        lines.push(
          `- **#${run.run}**${run.sessionId ? ` (session \`${run.sessionId}\`)` : ""}: ${cell(run.summary)}`,
        );
      }
      lines.push("");
    }
    lines.push("</details>");
  }
  return `${lines.join("\n")}\n`;
}
