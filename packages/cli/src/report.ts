// The outcome of a run of the suite as one data structure: every report (terminal table, JUnit, JSON, Markdown)
// is a view of it. Figures follow the API's definitions: pass^k = C(passed,k)/C(runs,k), latency percentiles
// interpolated like PostgreSQL's percentile_cont.
import { type RunResult, roundMs } from "./runner.js";
import type { Reference, ScenarioSpec } from "./suite.js";

export interface ScenarioReport {
  name: string;
  persona: { ref: string; id: string };
  agent: { ref: string; id: string };
  repeat: number;
  runs: RunResult[];
  passedRuns: number;
  /** Runs that ended without passing: failed verdicts and timeouts. */
  failedRuns: number;
  /** Runs that could not be played (the API refused the session, the run was interrupted). */
  erroredRuns: number;
  passRate: number;
  /** The estimated chance that k runs in a row pass, k = the number of runs. */
  passHatK: { k: number; value: number };
  passed: boolean;
  latency: { count: number; p50: number; p95: number; max: number } | null;
  /** Why runs failed, most frequent first: failed checks by name, timeouts, errors. */
  failedChecks: { name: string; count: number }[];
  /** Seconds: the runs' durations added up. */
  duration: number;
}

export interface Report {
  tool: { name: string; version: string };
  suite: { name: string; files: string[] };
  options: { concurrency: number; minPassRate: number; scenarios?: string[] | undefined };
  server: { mode: "embedded" | "server"; baseUrl: string | null };
  startedAt: string;
  finishedAt: string;
  /** Seconds, wall clock. */
  duration: number;
  passed: boolean;
  totals: {
    scenarios: number;
    scenariosPassed: number;
    scenariosFailed: number;
    runs: number;
    runsPassed: number;
    runsFailed: number;
    runsErrored: number;
  };
  scenarios: ScenarioReport[];
}

function choose(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let out = 1;
  for (let i = 1; i <= k; i++) out = (out * (n - k + i)) / i;
  return out;
}

/** C(passed,k)/C(runs,k): the estimated chance that k runs in a row all pass. */
export function passHatK(passed: number, runs: number, k: number): number {
  if (runs === 0 || k > runs) return 0;
  return choose(passed, k) / choose(runs, k);
}

/** Linear interpolation between closest ranks (PostgreSQL's percentile_cont). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = p * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return sorted[low]! + (sorted[high]! - sorted[low]!) * (rank - low);
}

const refText = (reference: Reference) => ("key" in reference ? reference.key : reference.id);

export function scenarioReport(
  spec: ScenarioSpec,
  ids: { personaId: string; agentId: string },
  runs: RunResult[],
  minPassRate: number,
): ScenarioReport {
  const passedRuns = runs.filter((r) => r.outcome === "passed").length;
  const erroredRuns = runs.filter((r) => r.outcome === "error").length;
  const failedRuns = runs.length - passedRuns - erroredRuns;
  const passRate = runs.length > 0 ? passedRuns / runs.length : 0;
  const latencies = runs.flatMap((r) => r.latencies);
  const reasons = new Map<string, number>();
  const count = (name: string) => reasons.set(name, (reasons.get(name) ?? 0) + 1);
  for (const run of runs) {
    if (run.outcome === "passed") continue;
    if (run.outcome === "timed_out") count("timed out");
    else if (run.outcome === "error") count(`error: ${run.error ?? "unknown"}`);
    else if (run.failedChecks.length === 0) count(run.summary || "failed");
    for (const check of run.failedChecks) count(check.name);
  }
  return {
    name: spec.name,
    persona: { ref: refText(spec.persona), id: ids.personaId },
    agent: { ref: refText(spec.agent), id: ids.agentId },
    repeat: spec.repeat,
    runs,
    passedRuns,
    failedRuns,
    erroredRuns,
    passRate,
    passHatK: { k: runs.length, value: passHatK(passedRuns, runs.length, runs.length) },
    // A tiny tolerance: 2 of 3 passing meets --min-pass-rate 0.6667.
    passed: runs.length > 0 && passRate + 1e-9 >= minPassRate,
    latency:
      latencies.length > 0
        ? {
            count: latencies.length,
            p50: Math.round(percentile(latencies, 0.5)),
            p95: Math.round(percentile(latencies, 0.95)),
            max: Math.max(...latencies),
          }
        : null,
    failedChecks: [...reasons.entries()]
      .map(([name, n]) => ({ name, count: n }))
      .sort((a, b) => b.count - a.count || a.name.localeCompare(b.name)),
    duration: roundMs(runs.reduce((sum, r) => sum + r.duration, 0)),
  };
}

export function totalsOf(scenarios: ScenarioReport[]): Report["totals"] {
  const sum = (pick: (s: ScenarioReport) => number) => scenarios.reduce((n, s) => n + pick(s), 0);
  const scenariosPassed = scenarios.filter((s) => s.passed).length;
  return {
    scenarios: scenarios.length,
    scenariosPassed,
    scenariosFailed: scenarios.length - scenariosPassed,
    runs: sum((s) => s.runs.length),
    runsPassed: sum((s) => s.passedRuns),
    runsFailed: sum((s) => s.failedRuns),
    runsErrored: sum((s) => s.erroredRuns),
  };
}

export const percent = (rate: number) => `${Math.round(rate * 1000) / 10}%`;

/** A message as a transcript line: `persona: …`, `agent: … (812 ms)`. */
export function transcriptLine(message: { senderType: string; content: string; latencyMs: number | null }) {
  const latency =
    message.senderType === "agent" && message.latencyMs !== null ? ` (${message.latencyMs} ms)` : "";
  return `${message.senderType}: ${message.content}${latency}`;
}
