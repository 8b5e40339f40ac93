// `pnpm bench`: the API throughput benchmark (api.ts), the engine benchmark (engine.ts), analytics on a large
// transcript store (analytics.ts), live-event fan-out (live.ts), voice calls at once (voice.ts), then `pnpm dev`
// start-up (startup.ts). Figures, not assertions: every figure comes with a ratio against a baseline measured in the
// same run (or a goal).
//   pnpm bench [--only api|engine|analytics|live|voice|startup]
//     analytics: [--messages 100000] [--iterations 20]
//     live:   [--subscribers 1000[,…]] [--events 200] [--rate 20] [--subscriber-threads 1]
//     voice:  [--calls 50,200] [--voice-seconds 10] (no database)
//     startup: [--startup-runs 3] (always the embedded database)
//     API:    [--duration 5] [--connections 20]
//     engine: [--sessions 2000@1,10000@5] [--seconds 20] [--warmup 5] [--concurrency 1000[,400…]]
//             [--poll-ms 200] [--baseline 10] [--pool 20] [--scale 8000@1] [--workers 2]
//             (sessions@messageInterval in seconds; a bare count uses --interval, default 1. --scale is measured
//             with one engine process and with --workers processes: PostgreSQL only, 0 or 1 to skip)
// DATABASE_URL set → PostgreSQL (a throwaway database per measurement on that server), else in-memory PGlite.
// Progress goes to stderr, the tables to stdout. Defaults take about 2½ minutes on a 2-core machine.
import { parseArgs } from "node:util";
import { DEFAULT_ENGINE_CONCURRENCY } from "../src/config.js";
import { type AnalyticsBenchOptions, runAnalyticsBench } from "./analytics.js";
import { type ApiBenchOptions, runApiBench } from "./api.js";
import { type EngineBenchOptions, runEngineBench } from "./engine.js";
import { type LiveBenchOptions, runLiveBench } from "./live.js";
import { runStartupBench, type StartupBenchOptions } from "./startup.js";
import { runVoiceBench, type VoiceBenchOptions } from "./voice.js";

function fail(message: string): never {
  console.error(`pnpm bench: ${message}`);
  process.exit(2);
}

const options = {
  only: { type: "string" },
  duration: { type: "string", default: "5" },
  connections: { type: "string", default: "20" },
  sessions: { type: "string", default: "2000@1,10000@5" },
  scale: { type: "string", default: "8000@1" },
  workers: { type: "string", default: "2" },
  seconds: { type: "string", default: "20" },
  warmup: { type: "string", default: "5" },
  interval: { type: "string", default: "1" },
  concurrency: { type: "string", default: String(DEFAULT_ENGINE_CONCURRENCY) },
  "poll-ms": { type: "string", default: "200" },
  baseline: { type: "string", default: "10" },
  pool: { type: "string", default: "20" },
  messages: { type: "string", default: "100000" },
  iterations: { type: "string", default: "20" },
  subscribers: { type: "string", default: "1000" },
  events: { type: "string", default: "200" },
  rate: { type: "string", default: "20" },
  "subscriber-threads": { type: "string", default: "1" },
  "startup-runs": { type: "string", default: "3" },
  calls: { type: "string", default: "50,200" },
  "voice-seconds": { type: "string", default: "10" },
} as const;

let values: ReturnType<typeof parseArgs<{ options: typeof options }>>["values"];
try {
  // pnpm forwards a literal `--` before the script's arguments.
  ({ values } = parseArgs({ args: process.argv.slice(2).filter((arg) => arg !== "--"), options }));
} catch (error) {
  fail((error as Error).message);
}

function number(name: keyof typeof options, { min = 0, integer = true } = {}): number {
  const value = Number(values[name]);
  if (
    values[name] === undefined ||
    !Number.isFinite(value) ||
    value < min ||
    (integer && !Number.isInteger(value))
  )
    fail(`--${name} must be ${integer ? "an integer" : "a number"} ≥ ${min} (got ${values[name]})`);
  return value;
}

function list(name: "concurrency" | "subscribers" | "calls"): number[] {
  const items = String(values[name])
    .split(",")
    .map((s) => Number(s.trim()));
  if (items.some((v) => !Number.isInteger(v) || v < 1))
    fail(`--${name} must be a comma-separated list of positive integers (got ${values[name]})`);
  return items;
}

/** `2000@1,10000@5`: session counts, each with its messageInterval in seconds (default --interval). */
function scenarios(name: "sessions" | "scale"): { sessions: number; interval: number }[] {
  const fallback = number("interval", { min: 0.001, integer: false });
  return String(values[name])
    .split(",")
    .map((item) => {
      const [count, at] = item.trim().split("@");
      const sessions = Number(count);
      const interval = at === undefined ? fallback : Number(at);
      if (!Number.isInteger(sessions) || sessions < 1 || !Number.isFinite(interval) || interval <= 0)
        fail(`--${name} must be a comma-separated list of sessions[@interval] (got ${values[name]})`);
      return { sessions, interval };
    });
}

const only = values.only;
const benches = ["api", "engine", "analytics", "live", "voice", "startup"];
if (only !== undefined && !benches.includes(only)) fail(`--only must be ${benches.join(", ")}`);
const databaseUrl = process.env.DATABASE_URL || undefined;

// Every flag is checked before anything runs.
const api: ApiBenchOptions = {
  duration: number("duration", { min: 1 }),
  connections: number("connections", { min: 1 }),
  databaseUrl,
};
const engine: EngineBenchOptions = {
  scenarios: scenarios("sessions"),
  scale: scenarios("scale")[0],
  workers: number("workers"),
  seconds: number("seconds", { min: 1, integer: false }),
  warmup: number("warmup", { integer: false }),
  concurrency: list("concurrency"),
  pollMs: number("poll-ms", { min: 10 }),
  baseline: number("baseline"),
  pool: number("pool", { min: 1 }),
  databaseUrl,
};

const analytics: AnalyticsBenchOptions = {
  messages: number("messages", { min: 1000 }),
  iterations: number("iterations", { min: 1 }),
  databaseUrl,
};

const live: LiveBenchOptions = {
  subscribers: list("subscribers"),
  events: number("events", { min: 1 }),
  rate: number("rate", { min: 0.1, integer: false }),
  threads: number("subscriber-threads", { min: 1 }),
  databaseUrl,
};
const voice: VoiceBenchOptions = {
  calls: list("calls"),
  seconds: number("voice-seconds", { min: 1, integer: false }),
};
const startup: StartupBenchOptions = { runs: number("startup-runs", { min: 1 }) };

if (!only || only === "api") await runApiBench(api);
if (!only || only === "engine") await runEngineBench(engine);
if (!only || only === "analytics") await runAnalyticsBench(analytics);
if (!only || only === "live") await runLiveBench(live);
if (!only || only === "voice") await runVoiceBench(voice);
if (!only || only === "startup") await runStartupBench(startup);

// Everything is closed by now (servers, engine, databases, bot); exit without waiting for stray timers.
process.exit(0);
