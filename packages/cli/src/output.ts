// What the terminal shows while a suite runs and when it is done. On a TTY: one progress bar per scenario (runs
// done, passed, failed). Elsewhere (CI=true, a pipe, a log file): one plain line per finished run. --verbose adds
// the transcripts (`[scenario #1] persona: …`). Then the table, the summary and where the reports went.

import type { Message } from "@mimic/sdk";
import { MultiBar, Presets, type SingleBar } from "cli-progress";
import Table from "cli-table3";
import pc from "picocolors";
import { percent, type Report, transcriptLine } from "./report.js";
import type { RunnerListener, RunResult } from "./runner.js";

/** Where the CLI writes: process.stdout, or a test's buffer. */
export interface Out {
  write(text: string): unknown;
  isTTY?: boolean | undefined;
  columns?: number | undefined;
}

export type Colors = ReturnType<typeof pc.createColors>;

export function colorsFor(out: Out, env: Record<string, string | undefined>): Colors {
  const enabled =
    !("NO_COLOR" in env) &&
    (env.FORCE_COLOR ? env.FORCE_COLOR !== "0" : Boolean(out.isTTY) && env.TERM !== "dumb");
  return pc.createColors(enabled);
}

/** Progress bars need a real terminal, and CI logs are better off with plain lines. */
export const interactive = (out: Out, env: Record<string, string | undefined>) =>
  Boolean(out.isTTY) && env.CI !== "true" && env.CI !== "1" && env.TERM !== "dumb";

interface Tally {
  name: string;
  total: number;
  done: number;
  passed: number;
  failed: number;
  bar?: SingleBar;
}

const seconds = (s: number) => `${s.toFixed(1)} s`;

export class Progress implements RunnerListener {
  readonly #out: Out;
  readonly #c: Colors;
  readonly #verbose: boolean;
  readonly #tallies = new Map<string, Tally>();
  #bars: MultiBar | undefined;

  constructor(
    out: Out,
    colors: Colors,
    scenarios: { name: string; repeat: number }[],
    options: { interactive: boolean; verbose: boolean },
  ) {
    this.#out = out;
    this.#c = colors;
    this.#verbose = options.verbose;
    const width = Math.min(40, Math.max(...scenarios.map((s) => s.name.length)));
    if (options.interactive) {
      this.#bars = new MultiBar(
        {
          stream: out as NodeJS.WritableStream,
          format: (_options, params, payload: { name: string; passed: number; failed: number }) =>
            `${this.#bar(params.progress)} ${payload.name.padEnd(width).slice(0, width)} ${params.value}/${params.total} · ${colors.green(`${payload.passed} passed`)} · ${payload.failed ? colors.red(`${payload.failed} failed`) : "0 failed"}`,
          hideCursor: true,
          clearOnComplete: false,
          autopadding: true,
          fps: 5,
        },
        Presets.shades_classic,
      );
    }
    for (const s of scenarios) {
      const tally: Tally = { name: s.name, total: s.repeat, done: 0, passed: 0, failed: 0 };
      if (this.#bars) tally.bar = this.#bars.create(s.repeat, 0, { name: s.name, passed: 0, failed: 0 });
      this.#tallies.set(s.name, tally);
    }
  }

  #bar(progress: number): string {
    const size = 20;
    const full = Math.round(Math.max(0, Math.min(1, progress)) * size);
    return this.#c.cyan("█".repeat(full)) + this.#c.dim("░".repeat(size - full));
  }

  /** A line above the bars on a TTY, a plain line elsewhere. */
  line(text: string): void {
    if (this.#bars) this.#bars.log(`${text}\n`);
    else this.#out.write(`${text}\n`);
  }

  message(scenario: string, run: number, message: Message): void {
    if (!this.#verbose) return;
    const who =
      message.senderType === "persona"
        ? this.#c.cyan
        : message.senderType === "agent"
          ? this.#c.magenta
          : this.#c.dim;
    const [sender, ...rest] = transcriptLine(message).split(": ");
    this.line(`${this.#c.dim(`[${scenario} #${run}]`)} ${who(`${sender}:`)} ${rest.join(": ")}`);
  }

  runFinished(result: RunResult): void {
    const tally = this.#tallies.get(result.scenario);
    if (!tally) return;
    tally.done++;
    if (result.outcome === "passed") tally.passed++;
    else tally.failed++;
    const c = this.#c;
    if (tally.bar) {
      tally.bar.update(tally.done, { name: tally.name, passed: tally.passed, failed: tally.failed });
      if (result.outcome !== "passed" && this.#verbose) {
        this.line(`${c.red("✗")} ${result.scenario} #${result.run}: ${result.summary}`);
      }
      return;
    }
    const label = `${result.scenario} #${result.run}`;
    const status =
      result.outcome === "passed"
        ? `${c.green("✓")} ${label} passed in ${seconds(result.duration)}`
        : `${c.red("✗")} ${label} ${result.outcome === "timed_out" ? "timed out" : result.outcome === "error" ? "errored" : "failed"} in ${seconds(result.duration)}: ${result.summary}`;
    this.line(
      `${status} ${c.dim(`— ${tally.done}/${tally.total} done, ${tally.passed} passed, ${tally.failed} failed`)}`,
    );
  }

  stop(): void {
    this.#bars?.stop();
  }
}

/** Visible length of a string that may carry colour codes. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape sequences is the point.
const visible = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "").length;

/** The final table: one row per scenario; the failed-checks column takes the width that is left, and wraps. */
export function renderTable(report: Report, colors: Colors, columns: number | undefined): string {
  const head = ["Scenario", "Runs", "Pass rate", "pass^k", "p95 reply", "Failed checks"];
  const rows = report.scenarios.map((s) => [
    `${s.passed ? colors.green("✓") : colors.red("✗")} ${s.name}`,
    String(s.runs.length),
    (s.passed ? colors.green : colors.red)(percent(s.passRate)),
    s.passHatK.value.toFixed(2),
    s.latency ? `${s.latency.p95} ms` : "—",
    s.failedChecks.map((f) => `${f.name} ×${f.count}`).join("\n") || colors.dim("—"),
  ]);
  const width = Math.max(80, Math.min(columns ?? 120, 240));
  // Natural widths (cell + padding + border), the scenario name capped so the last column keeps some room.
  const natural = head.slice(0, 5).map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i]!))) + 2);
  natural[0] = Math.min(natural[0]!, Math.max(20, Math.floor(width * 0.35)));
  const rest = width - natural.reduce((a, b) => a + b, 0) - 7;
  const longest =
    Math.max("Failed checks".length, ...rows.flatMap((r) => r[5]!.split("\n").map(visible))) + 2;
  const table = new Table({
    head: head.map((h) => colors.bold(h)),
    colWidths: [...natural, Math.max(20, Math.min(rest, longest))],
    colAligns: ["left", "right", "right", "right", "right", "left"],
    wordWrap: true,
    wrapOnWordBoundary: true,
    style: { head: [], border: [] },
  });
  table.push(...rows);
  return `${table.toString()}\n`;
}

export function renderSummary(report: Report, colors: Colors): string {
  const t = report.totals;
  const runs = `${t.runs} run${t.runs === 1 ? "" : "s"}: ${t.runsPassed} passed, ${t.runsFailed} failed${t.runsErrored ? `, ${t.runsErrored} errored` : ""}`;
  const rate =
    report.options.minPassRate < 1 ? ` (min pass rate ${percent(report.options.minPassRate)})` : "";
  return report.passed
    ? `${colors.green(colors.bold(`✓ All ${t.scenarios} scenario${t.scenarios === 1 ? "" : "s"} passed`))}${rate} — ${runs} in ${seconds(report.duration)}\n`
    : `${colors.red(colors.bold(`✗ ${t.scenariosFailed} of ${t.scenarios} scenario${t.scenarios === 1 ? "" : "s"} failed`))}${rate} — ${runs} in ${seconds(report.duration)}\n`;
}
