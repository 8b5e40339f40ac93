// `pnpm bench`: the API throughput benchmark (api.ts), the engine benchmark (engine.ts), then analytics on a
// large transcript store (analytics.ts). Figures, not assertions: every figure comes with a ratio against a
// baseline measured in the same run.
//   pnpm bench [--only api|engine|analytics]
//     analytics: [--messages 100000] [--iterations 20]
//     API:    [--duration 5] [--connections 20]
//     engine: [--sessions 1000,10000] [--seconds 20] [--warmup 5] [--interval 1] [--concurrency 200[,400…]]
//             [--poll-ms 200] [--baseline 10] [--pool 20]
// DATABASE_URL set → PostgreSQL (a throwaway database per measurement on that server), else in-memory PGlite.
// Progress goes to stderr, the tables to stdout. Defaults take about 2½ minutes on a 2-core machine.
import { parseArgs } from "node:util";
import { type AnalyticsBenchOptions, runAnalyticsBench } from "./analytics.js";
import { type ApiBenchOptions, runApiBench } from "./api.js";
import { type EngineBenchOptions, runEngineBench } from "./engine.js";

function fail(message: string): never {
  console.error(`pnpm bench: ${message}`);
  process.exit(2);
}

const options = {
  only: { type: "string" },
  duration: { type: "string", default: "5" },
  connections: { type: "string", default: "20" },
  sessions: { type: "string", default: "1000,10000" },
  seconds: { type: "string", default: "20" },
  warmup: { type: "string", default: "5" },
  interval: { type: "string", default: "1" },
  concurrency: { type: "string", default: "50" },
  "poll-ms": { type: "string", default: "200" },
  baseline: { type: "string", default: "10" },
  pool: { type: "string", default: "20" },
  messages: { type: "string", default: "100000" },
  iterations: { type: "string", default: "20" },
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

function list(name: "sessions" | "concurrency"): number[] {
  const items = String(values[name])
    .split(",")
    .map((s) => Number(s.trim()));
  if (items.some((v) => !Number.isInteger(v) || v < 1))
    fail(`--${name} must be a comma-separated list of positive integers (got ${values[name]})`);
  return items;
}

const only = values.only;
if (only !== undefined && only !== "api" && only !== "engine" && only !== "analytics") {
  fail("--only must be api, engine or analytics");
}
const databaseUrl = process.env.DATABASE_URL || undefined;

// Every flag is checked before anything runs.
const api: ApiBenchOptions = {
  duration: number("duration", { min: 1 }),
  connections: number("connections", { min: 1 }),
  databaseUrl,
};
const engine: EngineBenchOptions = {
  sessions: list("sessions"),
  seconds: number("seconds", { min: 1, integer: false }),
  warmup: number("warmup", { integer: false }),
  interval: number("interval", { min: 0.001, integer: false }),
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

if (!only || only === "api") await runApiBench(api);
if (!only || only === "engine") await runEngineBench(engine);
if (!only || only === "analytics") await runAnalyticsBench(analytics);

// Everything is closed by now (servers, engine, databases, bot); exit without waiting for stray timers.
process.exit(0);
