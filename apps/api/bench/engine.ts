// Engine throughput: N concurrent sessions, each due every `interval` seconds, against a loopback webhook bot.
// Figures, not assertions: what the release notes quote, and what to compare across commits.
//
// Choices:
// - One fresh database per measurement (db.ts): no run inherits the messages or dead tuples of another. On
//   PostgreSQL it must be a throwaway one: a runner claims every due session in its database, so in a shared
//   database it would play other people's sessions and their workers ours.
// - The engine runs exactly as in production: buildApp({engine: true}) and app.ready() start the Runner with the
//   configured MIMIC_ENGINE_CONCURRENCY / MIMIC_ENGINE_POLL_MS, live-event hub included (every turn's NOTIFYs
//   are delivered to and parsed by this process, as on a real server).
// - The bot answers every POST with 200 {"reply":"ok"} at once, keep-alive, in a worker thread: the engine's
//   event loop is not charged for the bot's work, and ELU below is the engine's own. "ok" has no keyword the
//   scripted persona recognises and the persona has no goal, so no session ends during the run.
// - Sessions are seeded straight into the tables (1,000 rows per insert) as already `active`, so every turn
//   measured is a steady-state turn (no activation pass at 10k). Their first turns are spread uniformly over
//   one interval starting when the engine starts (next_turn_at is rewritten relative to now() just before).
// - Measurement: a warm-up, then a window of `seconds`.
//   turns/s: least-squares slope of runner.turnsPlayed sampled every 50 ms. When the database is the bottleneck,
//   the turns in flight advance through its queue together and finish in bursts of up to `concurrency`; the
//   slope is much less sensitive than (last − first) / seconds to where the window's edges fall among them.
//   msgs/s: the same slope over the timestamps of the message rows written in the window (read after the run,
//   so no query competes with the engine); it should be 2 × turns/s (persona message + bot reply).
//   lag: runner.lagSamples taken during the window (due time → claimed; the runner keeps the last 100,000).
//   backlog: sessions overdue and unclaimed at the window end, and how overdue the oldest was ("oldest s": the
//   lag samples only cover sessions that got claimed, so under overload this is the true worst case).
//   errors: engine warnings and errors (logged at warn and above, counted here) plus sessions that ended (none
//   should).
//   in flight: the runner's turns in progress, sampled every 50 ms (a private field, read for diagnosis only);
//   with Little's law, turn ms = in flight / turns/s is how long one turn takes under that load.
//   CPU: this process (process.cpuUsage: engine and bot thread), every `postgres` process and the whole machine
//   (/proc; Linux only), in cores, and per turn played. The per-turn CPU cost is the figure least disturbed by
//   other jobs on the machine; "others" shows how much they took.
// - Baselines, measured in the same run: the ideal rate N / interval (× ideal), and a light-load run of
//   `baseline` sessions (default 10, light even for in-memory PGlite, which saturates well below 100 turns/s on
//   a small machine): "× light" is the turn rate per session relative to it (1.00 = the engine keeps up as well
//   as when nearly idle), "p50/p99 × light" how far the lag grew from light load.
// - `--concurrency 50,200,800` measures each session count at each MIMIC_ENGINE_CONCURRENCY (the baseline uses
//   the first); `--pool` sizes the postgres.js pool (PostgreSQL only; main.ts uses the driver default, 10).
// - Shutdown: the runner is stopped with a long grace before app.close() (see stopEngine), the bot thread is
//   terminated, each database closed (a throwaway PostgreSQL database dropped).

import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { agents, messages, personas, type SessionConfig, sessions, users } from "@mimic/db";
import { and, count, eq, gte, inArray, lt, lte, sql } from "drizzle-orm";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { type BenchDb, openBenchDb } from "./db.js";

export interface Scenario {
  sessions: number;
  /** messageInterval of every session, in seconds. */
  interval: number;
}

export interface EngineBenchOptions {
  /** What to measure, e.g. 2,000 sessions at 1 s and 10,000 at 5 s. */
  scenarios: Scenario[];
  /**
   * Measured with one engine process and then with `workers` (the others started as `MIMIC_ROLE=worker`
   * processes on the same database): what a second process adds. PostgreSQL only; none when undefined.
   */
  scale: Scenario | undefined;
  workers: number;
  /** Measurement window per run, in seconds. */
  seconds: number;
  /** Seconds of running before the window opens. */
  warmup: number;
  /** MIMIC_ENGINE_CONCURRENCY values: each session count is measured with each. */
  concurrency: number[];
  /** MIMIC_ENGINE_POLL_MS. */
  pollMs: number;
  /** Sessions in the light-load baseline run (0: none). */
  baseline: number;
  /** postgres.js pool size (PostgreSQL only). */
  pool: number;
  databaseUrl: string | undefined;
}

interface RunResult {
  sessions: number;
  interval: number;
  /** Engine processes: this one, plus worker processes. */
  workers: number;
  concurrency: number;
  baseline: boolean;
  ideal: number;
  turnsPerSec: number;
  msgsPerSec: number;
  lag: { p50: number; p95: number; p99: number; max: number; samples: number };
  inFlight: number;
  elu: number;
  cpu: CpuShare;
  backlog: number;
  /** Length of the measurement window. */
  seconds: number;
  /** Seconds the most overdue unclaimed session had been waiting at the window end. */
  oldest: number;
  failed: number;
  errors: number;
  firstError: string | undefined;
  seedMs: number;
  /** The database, as db.ts names it. */
  label: string;
}

const BOT_SOURCE = `
const { parentPort } = require("node:worker_threads");
const http = require("node:http");
const body = '{"reply":"ok"}';
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
    res.end(body);
  });
});
// Longer than the client's keep-alive, so the server never closes a socket the engine is about to reuse.
server.keepAliveTimeout = 65000;
server.headersTimeout = 66000;
server.listen(0, "127.0.0.1", () => parentPort.postMessage(server.address().port));
`;

async function startBot(): Promise<{ url: string; close(): Promise<void> }> {
  const worker = new Worker(BOT_SOURCE, { eval: true });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  return {
    url: `http://127.0.0.1:${port}/hook`,
    close: async () => {
      await worker.terminate();
    },
  };
}

interface CpuSnapshot {
  at: number;
  own: NodeJS.CpuUsage;
  /** /proc/stat: busy and total jiffies summed over all cores (Linux only). */
  host?: { busy: number; total: number } | undefined;
  /** utime + stime of every process named postgres, in jiffies (Linux only). */
  postgres?: number | undefined;
}

/** Where the machine's CPU went, in cores (1.0 = one core busy the whole time). */
export interface CpuShare {
  host: number | undefined;
  bench: number;
  postgres: number | undefined;
}

function readProcStat(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync("/proc/stat", "utf8")
      .split("\n")[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

function postgresJiffies(): number | undefined {
  try {
    let sum = 0;
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue; // exited meanwhile
      }
      const close = stat.lastIndexOf(")");
      if (stat.slice(stat.indexOf("(") + 1, close) !== "postgres") continue;
      const fields = stat.slice(close + 2).split(" ");
      sum += Number(fields[11]) + Number(fields[12]); // utime, stime
    }
    return sum;
  } catch {
    return undefined;
  }
}

function cpuSnapshot(withPostgres: boolean): CpuSnapshot {
  return {
    at: performance.now(),
    own: process.cpuUsage(),
    host: readProcStat(),
    postgres: withPostgres ? postgresJiffies() : undefined,
  };
}

function cpuShare(a: CpuSnapshot, b: CpuSnapshot): CpuShare {
  const seconds = (b.at - a.at) / 1000;
  const own = process.cpuUsage(a.own);
  const cores = availableParallelism();
  let host: number | undefined;
  let postgres: number | undefined;
  if (a.host && b.host) {
    const total = b.host.total - a.host.total;
    host = ((b.host.busy - a.host.busy) / total) * cores;
    // Jiffies per second per core, measured rather than assumed (USER_HZ).
    const hz = total / cores / seconds;
    if (a.postgres !== undefined && b.postgres !== undefined)
      postgres = (b.postgres - a.postgres) / hz / seconds;
  }
  return { host, bench: (own.user + own.system) / 1e6 / seconds, postgres };
}

/**
 * Least-squares slope of y over x. Turns complete in bursts when the database is the bottleneck (every turn in
 * flight advances through the same queue, so they finish together): the slope over 50 ms samples is far less
 * sensitive to where the window's edges fall than (last − first) / seconds.
 */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The bench's runner as the app exposes it, plus a look at its private in-flight set (diagnosis only). */
function inFlightOf(runner: unknown): number {
  const set = (runner as { inFlight?: unknown }).inFlight;
  return set instanceof Set ? set.size : Number.NaN;
}

/**
 * Stops the engine without tripping over two shutdown limits (see the report): Runner.stop() waits at most
 * 10 s for the turns in flight and then lets them run on, and Fastify gives a close hook 10 s
 * (pluginTimeout) before app.close() fails with AVV_ERR_READY_TIMEOUT, thrown from a timer. With a deep
 * database queue (high concurrency, slow database) draining takes longer than that. So the runner is stopped
 * first with a long grace (every turn finishes, leases are released), then the app closes with nothing left
 * to wait for.
 */
async function stopEngine(app: FastifyInstance) {
  await app.runner?.stop(120_000);
  await app.close();
}

/**
 * Another engine process on the bench's database, started as in production (`MIMIC_ROLE=worker`, src/main.ts);
 * resolves once it runs (it claims nothing before the sessions are released).
 */
async function startWorker(url: string, env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@mimic/source", "src/main.ts"], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    env: {
      ...process.env,
      ...env,
      DATABASE_URL: url,
      MIMIC_ROLE: "worker",
      NODE_ENV: "development",
      MIMIC_LOG_LEVEL: "info",
      MIMIC_DEMO: "false",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    let seen = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes("worker") && seen.includes("running sessions")) resolve();
    });
    child.once("exit", (code) =>
      reject(new Error(`the worker process exited (${code}) before it ran: ${seen}`)),
    );
  });
  child.stdout!.resume();
  return child;
}

/** SIGTERM, as a deployment would: the worker finishes its turns and hands its leases back. */
async function stopWorker(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

// Rows are seeded relative to this instant, then moved to now() in one statement when the engine starts.
const FAR = Date.UTC(2100, 0, 1);
const FAR_SQL = sql.raw(`timestamptz '${new Date(FAR).toISOString()}'`);

async function seed(db: BenchDb, n: number, interval: number, botUrl: string) {
  const [user] = await db.db
    .insert(users)
    .values({ email: `bench-engine-${crypto.randomUUID()}@example.com`, passwordHash: "not-a-hash" })
    .returning({ id: users.id });
  const userId = user!.id;
  const [persona] = await db.db
    .insert(personas)
    .values({
      userId,
      name: "Bench persona",
      prompt: "You are a customer whose parcel is late.",
      goal: null,
      provider: "scripted",
      // Script lines keep the customer talking: against a bot that always says "ok", the scripted persona would
      // otherwise give up after a few turns and end the session (a bench run plays far fewer than 200 turns).
      script: Array.from({ length: 200 }, (_, i) => `Any news? (${i + 1})`),
    })
    .returning({ id: personas.id });
  const [agent] = await db.db
    .insert(agents)
    .values({ userId, name: "Bench bot", type: "webhook", config: { webhook_url: botUrl } })
    .returning({ id: agents.id });
  const config: SessionConfig = {
    duration: 3600,
    maxMessages: 1000,
    messageInterval: interval,
    replyTimeout: 5,
  };
  const CHUNK = 1000;
  for (let start = 0; start < n; start += CHUNK) {
    const rows = [];
    for (let i = start; i < Math.min(n, start + CHUNK); i++) {
      rows.push({
        userId,
        personaId: persona!.id,
        agentId: agent!.id,
        status: "active" as const,
        config,
        nextTurnAt: new Date(FAR + Math.floor((i * interval * 1000) / n)),
      });
    }
    await db.db.insert(sessions).values(rows);
  }
  return userId;
}

/** First turns spread over one interval from now, and the sessions started now. */
async function release(db: BenchDb, userId: string) {
  await db.db
    .update(sessions)
    .set({ nextTurnAt: sql`now() + (${sessions.nextTurnAt} - ${FAR_SQL})`, startedAt: sql`now()` })
    .where(eq(sessions.userId, userId));
}

async function measure(
  options: EngineBenchOptions,
  { sessions: n, interval }: Scenario,
  concurrency: number,
  botUrl: string,
  isBaseline: boolean,
  workers = 1,
): Promise<RunResult> {
  const db = await openBenchDb(options.databaseUrl, options.pool);
  if (!db.throwaway) {
    await db.close();
    // The runner claims every due session in its database: in a shared one it would play other people's sessions
    // (and their workers would play ours).
    throw new Error(
      "the engine bench needs its own database: DATABASE_URL's role must be allowed to CREATE DATABASE",
    );
  }
  let errors = 0;
  let firstError: string | undefined;
  const engineEnv = {
    MIMIC_ALLOW_PRIVATE_TARGETS: "true",
    MIMIC_ENGINE_CONCURRENCY: String(concurrency),
    // Every bench session belongs to one user: the per-user share would cap the engine, not measure it.
    MIMIC_ENGINE_USER_CONCURRENCY: String(concurrency * workers),
    MIMIC_ENGINE_POLL_MS: String(options.pollMs),
  };
  const config = loadConfig({ ...process.env, NODE_ENV: "test", ...engineEnv });
  // Warnings and errors (failed deliveries, failed turns, failed claims) are counted, not printed.
  const app = await buildApp({
    config,
    db,
    jwtSecret: "bench-secret-bench-secret-bench-secret-0000",
    engine: true,
    logger: {
      level: "warn",
      stream: {
        write(line: string) {
          errors++;
          if (!firstError) {
            const entry = JSON.parse(line) as { msg?: string; err?: { message?: string } };
            firstError = [entry.msg, entry.err?.message].filter(Boolean).join(": ");
          }
        },
      },
    },
  });
  const runner = app.runner!;
  let closed = false;
  const others: ChildProcess[] = [];
  try {
    const seedStart = performance.now();
    const userId = await seed(db, n, interval, botUrl);
    const seedMs = performance.now() - seedStart;
    for (let i = 1; i < workers; i++) others.push(await startWorker(db.url!, engineEnv));
    await release(db, userId);
    await app.ready(); // starts the runner

    await sleep(options.warmup * 1000);
    runner.lagSamples.length = 0;
    const turns0 = runner.turnsPlayed;
    const from = new Date();
    const t0 = performance.now();
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = cpuSnapshot(db.driver === "postgres");
    const samples: { t: number; turns: number; inFlight: number }[] = [];
    const sample = () =>
      samples.push({
        t: (performance.now() - t0) / 1000,
        turns: runner.turnsPlayed - turns0,
        inFlight: inFlightOf(runner),
      });
    sample();
    const sampler = setInterval(sample, 50);
    await sleep(options.seconds * 1000);
    clearInterval(sampler);
    sample();
    const to = new Date();
    const elu = performance.eventLoopUtilization(elu0).utilization;
    const cpu1 = cpuSnapshot(db.driver === "postgres");
    const lags = runner.lagSamples.slice().sort((a, b) => a - b);
    const [overdue] = await db.db
      .select({ n: count(), first: sql<Date | string | null>`min(${sessions.nextTurnAt})` })
      .from(sessions)
      .where(
        and(
          eq(sessions.userId, userId),
          inArray(sessions.status, ["pending", "active"]),
          lte(sessions.nextTurnAt, to),
          sql`${sessions.leaseOwner} is null`,
        ),
      );

    await stopEngine(app);
    await Promise.all(others.map(stopWorker));
    closed = true;
    // Messages per second the same way: the slope of their cumulative count over their timestamps.
    const inWindow = db.db
      .select({
        at: sql<number>`extract(epoch from ${messages.timestamp})`.as("at"),
        rank: sql<number>`row_number() over (order by ${messages.timestamp}, ${messages.seq})`.as("rank"),
      })
      .from(messages)
      .where(and(gte(messages.timestamp, from), lt(messages.timestamp, to)))
      .as("in_window");
    const [written] = await db.db
      .select({ perSecond: sql<number | string | null>`regr_slope(${inWindow.rank}, ${inWindow.at})` })
      .from(inWindow);
    const [failed] = await db.db
      .select({ n: count() })
      .from(sessions)
      .where(and(eq(sessions.userId, userId), inArray(sessions.status, ["failed", "completed", "stopped"])));
    return {
      sessions: n,
      interval,
      workers,
      concurrency,
      seconds: options.seconds,
      baseline: isBaseline,
      ideal: n / interval,
      // With worker processes, this process's count is a part: every process's turns are in the messages written.
      turnsPerSec:
        workers > 1
          ? (written?.perSecond == null ? Number.NaN : Number(written.perSecond)) / 2
          : slope(
              samples.map((x) => x.t),
              samples.map((x) => x.turns),
            ),
      msgsPerSec: written?.perSecond == null ? Number.NaN : Number(written.perSecond),
      lag: {
        p50: percentile(lags, 50),
        p95: percentile(lags, 95),
        p99: percentile(lags, 99),
        max: lags.at(-1) ?? Number.NaN,
        samples: lags.length,
      },
      inFlight: samples.reduce((sum, x) => sum + x.inFlight, 0) / samples.length,
      elu,
      cpu: cpuShare(cpu0, cpu1),
      backlog: Number(overdue?.n ?? 0),
      oldest: overdue?.first ? (to.getTime() - new Date(overdue.first).getTime()) / 1000 : 0,
      failed: Number(failed?.n ?? 0),
      errors,
      firstError,
      seedMs,
      label: db.label,
    };
  } finally {
    if (!closed) {
      await stopEngine(app);
      await Promise.all(others.map(stopWorker));
    }
    await db.close();
  }
}

const fmt = (value: number | undefined, digits = 0) =>
  value !== undefined && Number.isFinite(value) ? value.toFixed(digits) : "–";

function table(columns: [string, number][], rows: string[][]) {
  console.log(columns.map(([name, width]) => name.padStart(width)).join(" "));
  for (const row of rows) console.log(row.map((cell, i) => cell.padStart(columns[i]![1])).join(" "));
}

/** A turn took so long that few bursts of completions fell in the window: turns/s is rough. */
const bursty = (r: RunResult) => (r.inFlight / r.turnsPerSec) * 3 > r.seconds;

function printTables(results: RunResult[], options: EngineBenchOptions) {
  const light = results.find((r) => r.baseline);
  const name = (r: RunResult) =>
    `${r.sessions}@${r.interval}s${r.workers > 1 ? ` ${r.workers}p` : ""}${r.baseline ? "*" : ""}`;
  console.log(
    `\nMimic engine bench — ${results[0]?.label}, sessions@messageInterval, poll ${options.pollMs} ms, ` +
      `${options.seconds} s window after ${options.warmup} s warm-up, webhook bot on loopback\n`,
  );
  table(
    [
      ["sessions", 15],
      ["conc", 5],
      ["ideal/s", 8],
      ["turns/s", 8],
      ["× ideal", 8],
      ["× light", 8],
      ["msgs/s", 7],
      ["lag p50", 8],
      ["p95", 7],
      ["p99 ms", 7],
      ["p50 × light", 12],
      ["p99 × light", 12],
      ["backlog", 8],
      ["oldest s", 9],
      ["errors", 7],
    ],
    results.map((r) => [
      name(r),
      String(r.concurrency),
      fmt(r.ideal),
      `${bursty(r) ? "~" : ""}${fmt(r.turnsPerSec)}`,
      fmt(r.turnsPerSec / r.ideal, 3),
      light ? fmt(r.turnsPerSec / r.sessions / (light.turnsPerSec / light.sessions), 3) : "–",
      fmt(r.msgsPerSec),
      fmt(r.lag.p50),
      fmt(r.lag.p95),
      fmt(r.lag.p99),
      light ? fmt(r.lag.p50 / light.lag.p50, 1) : "–",
      light ? fmt(r.lag.p99 / light.lag.p99, 1) : "–",
      String(r.backlog),
      fmt(r.oldest, 1),
      String(r.errors + r.failed),
    ]),
  );
  console.log(
    `\n${light ? `* light-load baseline (${light.sessions} sessions). ` : ""}× ideal: turns/s ÷ (sessions ÷ interval). ` +
      "× light: turns/s per session ÷ the baseline's. lag: due time → claimed.\n" +
      "backlog: sessions overdue and unclaimed at the window end; oldest s: how long the oldest of them had waited.\n" +
      "errors: engine warnings/errors + sessions that ended.",
  );
  if (results.some(bursty))
    console.log(
      "~ one turn took over a third of the window: turns finish in bursts of up to `conc`, too few fell in the\n" +
        "  window for a steady figure (lengthen --seconds, or lower --concurrency).",
    );
  console.log(`\nWhere the time went (CPU in cores; this machine has ${availableParallelism()})\n`);
  table(
    [
      ["sessions", 15],
      ["conc", 5],
      ["in flight", 10],
      ["turn ms", 8],
      ["ELU", 5],
      ["bench CPU", 10],
      ["postgres", 9],
      ["others", 7],
      ["host", 6],
      ["bench ms/turn", 14],
      ["pg ms/turn", 11],
    ],
    results.map((r) => {
      const others =
        r.cpu.host === undefined ? undefined : Math.max(0, r.cpu.host - r.cpu.bench - (r.cpu.postgres ?? 0));
      return [
        name(r),
        String(r.concurrency),
        fmt(r.inFlight, 1),
        fmt((r.inFlight / r.turnsPerSec) * 1000, 1),
        `${fmt(r.elu * 100)}%`,
        fmt(r.cpu.bench, 2),
        fmt(r.cpu.postgres, 2),
        fmt(others, 2),
        fmt(r.cpu.host, 2),
        fmt((r.cpu.bench / r.turnsPerSec) * 1000, 2),
        fmt(r.cpu.postgres === undefined ? undefined : (r.cpu.postgres / r.turnsPerSec) * 1000, 2),
      ];
    }),
  );
  console.log(
    "\nin flight: turns in progress (mean of 50 ms samples). turn ms: in flight ÷ turns/s (Little's law).\n" +
      "ELU: the engine's event-loop utilisation. bench CPU: this process (engine + bot thread). postgres: every\n" +
      "postgres process on the machine. others: the rest of the machine (other jobs skew the figures when high).\n" +
      "ms/turn: CPU time per turn played (this process, postgres), the least noise-sensitive cost figure.",
  );
  const one = results.find(
    (r) =>
      !r.baseline &&
      options.scale &&
      r.sessions === options.scale.sessions &&
      r.interval === options.scale.interval &&
      r.workers === 1,
  );
  const many = results.find((r) => r.workers > 1);
  if (one && many)
    console.log(
      `\nScale-out: ${one.sessions} sessions @ ${one.interval} s (more than one process keeps up with): ` +
        `${fmt(one.turnsPerSec)} turns/s with 1 engine process, ${fmt(many.turnsPerSec)} with ${many.workers} ` +
        `(× ${fmt(many.turnsPerSec / one.turnsPerSec, 2)}; the others run as MIMIC_ROLE=worker, turns/s from the ` +
        "messages written). On one machine every process shares its cores with PostgreSQL and the bot.",
    );
  for (const r of results) {
    if (r.firstError)
      console.log(`${name(r)} sessions, concurrency ${r.concurrency}: first problem: ${r.firstError}`);
  }
}

export async function runEngineBench(options: EngineBenchOptions) {
  const bot = await startBot();
  const results: RunResult[] = [];
  try {
    const runs: { scenario: Scenario; concurrency: number; baseline: boolean; workers: number }[] = [];
    const first = options.scenarios[0] ?? { sessions: options.baseline, interval: 1 };
    if (options.baseline > 0)
      runs.push({
        scenario: { sessions: options.baseline, interval: first.interval },
        concurrency: options.concurrency[0]!,
        baseline: true,
        workers: 1,
      });
    for (const scenario of options.scenarios)
      for (const concurrency of options.concurrency)
        runs.push({ scenario, concurrency, baseline: false, workers: 1 });
    if (options.scale && options.workers > 1 && options.databaseUrl) {
      const concurrency = options.concurrency[0]!;
      runs.push({ scenario: options.scale, concurrency, baseline: false, workers: 1 });
      runs.push({ scenario: options.scale, concurrency, baseline: false, workers: options.workers });
    }
    for (const run of runs) {
      const { sessions: n, interval } = run.scenario;
      console.error(
        `engine: ${n} sessions @ ${interval} s, concurrency ${run.concurrency}, ${run.workers} process(es): ` +
          `${options.warmup} s warm-up + ${options.seconds} s…`,
      );
      const result = await measure(
        options,
        run.scenario,
        run.concurrency,
        bot.url,
        run.baseline,
        run.workers,
      );
      console.error(
        `engine:   ${fmt(result.turnsPerSec)} turns/s, lag p50 ${fmt(result.lag.p50)} ms, ` +
          `${fmt((result.cpu.bench / result.turnsPerSec) * 1000, 2)} ms CPU/turn here, ` +
          `others ${fmt(result.cpu.host === undefined ? undefined : result.cpu.host - result.cpu.bench - (result.cpu.postgres ?? 0), 2)} cores ` +
          `(seeded in ${fmt(result.seedMs)} ms)`,
      );
      results.push(result);
    }
  } finally {
    await bot.close();
  }
  printTables(results, options);
}
