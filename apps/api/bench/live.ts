// Live-event fan-out: how long a message takes from its commit to the WebSocket subscribers of its session, with 1
// subscriber (the baseline, measured in the same run) and with many (1,000 by default).
//
// Setup: one Mimic app listening on loopback (engine off, so every event is one of ours), on a fresh database
// (db.ts: in-memory PGlite, or a throwaway PostgreSQL database when DATABASE_URL is set). One user, one session.
// N subscribers connect to the public endpoint (GET /api/ws, the user's token) and subscribe to that session; then
// the owner appends K messages through the public API (POST /api/sessions/{id}/messages, one at a time, at `rate`
// per second, after a few unmeasured warm-up ones). Subscribers and publisher run in worker threads
// (live-clients.ts): the server's thread is not charged for the clients' work, though on a small machine they still
// share its cores. Beside the latencies: the server thread's CPU time per message and its event-loop utilisation
// while publishing — the fan-out's cost, which other jobs on the machine disturb far less than latencies.
//
// What is measured, for every message × subscriber: receipt time in the subscriber's thread − the message's
// `timestamp` as the event carries it. That timestamp is the database's clock (`now()`, the start of the
// transaction that inserts the message and queues its event), so the figure is the whole path — the rest of that
// transaction, the commit, NOTIFY, the listener, the hub's fan-out, the socket — and errs long by the few
// statements that precede the commit, never short; the POST's own round trip is not in it (its reply leaves after
// the commit, and a subscriber may well hear of the message first). The event's timestamp has millisecond
// precision (it is truncated, adding up to 1 ms). The database's clock is compared with this machine's after
// measuring their offset (`select clock_timestamp()`, the reading with the shortest round trip), so a server on
// another host works too; on loopback the offset is ~0.
//
// Reference points: the goal is p95 < 50 ms at 1,000 subscribers; websocket-shootout measured 73 ms at 1,000
// clients for Node with ws (a broadcast of its own, no database in the path).
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import type { MimicDb } from "@mimic/db";
import { sql } from "drizzle-orm";
import { buildApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { api } from "../test/support/processes.js";
import { cleanup, openBenchDb } from "./db.js";
import type { ClientReport, PublisherJob, SubscriberCommand, SubscriberJob } from "./live-clients.js";

export interface LiveBenchOptions {
  /** Subscriber counts to measure besides the 1-subscriber baseline, e.g. [1000]. */
  subscribers: number[];
  /** Measured messages per run. */
  events: number;
  /** Messages posted per second. */
  rate: number;
  /** Worker threads the subscribers are spread over. */
  threads: number;
  databaseUrl: string | undefined;
}

const WARMUP_EVENTS = 10;
const MEASURED = "measured ";

interface Run {
  subscribers: number;
  connectMs: number;
  latencies: Float64Array;
  missing: number;
  errors: number;
  postP50: number;
  /** Share of the publishing window the server's event loop was busy (0–1). */
  elu: number;
  /** CPU time of the server's thread per message posted, in ms (Linux only). */
  cpuPerMessage: number | undefined;
  /** How far the last POST started behind its schedule (the publisher could not keep the rate). */
  lagMs: number;
}

const wallNow = () => performance.timeOrigin + performance.now();

/**
 * CPU time of this process's main thread (the server's) in ms, from /proc (Linux only): unlike latency, barely
 * disturbed by other jobs on the machine, and not charged for the subscribers' threads.
 */
function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime (fields 14 and 15 of the file), in clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

function percentile(sorted: ArrayLike<number>, p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

/** Database clock − this machine's wall clock in ms, from the reading with the shortest round trip. */
async function clockOffset(db: MimicDb): Promise<{ offset: number; rtt: number }> {
  let best = { offset: 0, rtt: Number.POSITIVE_INFINITY };
  for (let i = 0; i < 20; i++) {
    const before = wallNow();
    const [row] = await db.rows<{ ms: string | number }>(
      sql`select extract(epoch from clock_timestamp()) * 1000 as ms`,
    );
    const after = wallNow();
    if (after - before < best.rtt)
      best = { offset: Number(row!.ms) - (before + after) / 2, rtt: after - before };
  }
  return best;
}

/** A worker thread running live-clients.ts (TypeScript: tsx's loader is registered there first). */
function clientWorker(job: SubscriberJob | PublisherJob): Worker {
  const entry = new URL("./live-clients.ts", import.meta.url).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  return new Worker(
    `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); })`,
    { eval: true, workerData: job },
  );
}

/** The worker's next report; a worker that fails, or exits without one, rejects. */
function nextReport(worker: Worker): Promise<ClientReport> {
  return new Promise((resolve, reject) => {
    const settle = () => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
    };
    const onMessage = (report: ClientReport) => {
      settle();
      if (report.type === "failed") reject(new Error(`live: ${report.message}`));
      else resolve(report);
    };
    const onError = (error: Error) => {
      settle();
      reject(error);
    };
    const onExit = (code: number) => {
      settle();
      reject(new Error(`live: a client thread exited (code ${code})`));
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
  });
}

export async function runLiveBench({ subscribers, events, rate, threads, databaseUrl }: LiveBenchOptions) {
  const counts = [1, ...subscribers.filter((n) => n !== 1)];
  const config = loadConfig({
    ...process.env,
    NODE_ENV: "test",
    MIMIC_RATE_LIMIT_USER: "1000000000",
    MIMIC_RATE_LIMIT_ANON: "1000000000",
    MIMIC_RATE_LIMIT_LOGIN: "1000000000",
    // Every subscriber is the same user; the sockets of one run may still be closing when the next connects.
    MIMIC_WS_MAX_CONNECTIONS: String(2 * Math.max(...counts) + 10),
    // The keep-alive's credential re-check (one read per socket per period) is not what this measures.
    MIMIC_WS_PING_MS: "3600000",
  });
  const db = await openBenchDb(databaseUrl, 20);
  const app = await buildApp({
    config,
    db,
    jwtSecret: "bench-secret-bench-secret-bench-secret-0000",
    logger: false,
    engine: false,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;

  const registered = await api(base)<{ access_token: string; user: { id: string } }>(
    "POST",
    "/api/auth/register",
    { email: `bench-live-${Date.now()}@example.com`, password: "bench-password" },
  );
  const token = registered.access_token;
  const call = api(base, token);
  try {
    const persona = await call<{ id: string }>("POST", "/api/personas", {
      name: "Bench",
      prompt: "A customer.",
    });
    const agent = await call<{ id: string }>("POST", "/api/agents", {
      name: "Bench bot",
      type: "webhook",
      config: { webhook_url: "https://bot.example.com/hook", secret: "whsec_0123456789" },
    });
    const clock = await clockOffset(db);

    const runs: Run[] = [];
    for (const n of counts) {
      const session = await call<{ id: string }>("POST", "/api/sessions", {
        agentId: agent.id,
        personaId: persona.id,
      });
      const sessionId = session.id;
      const workerCount = Math.min(n, threads);
      console.error(`live: ${n} subscriber(s) connecting (${workerCount} thread(s))…`);
      const workers = Array.from({ length: workerCount }, (_, i) =>
        clientWorker({
          role: "subscribers",
          url: `ws://127.0.0.1:${port}/api/ws`,
          token,
          sessionId,
          sockets: Math.floor(n / workerCount) + (i < n % workerCount ? 1 : 0),
          offsetMs: clock.offset,
          measuredPrefix: MEASURED,
        }),
      );
      let connectMs = 0;
      try {
        for (const report of await Promise.all(workers.map(nextReport)))
          if (report.type === "ready") connectMs = Math.max(connectMs, report.connectMs);
      } catch (error) {
        await Promise.all(workers.map((w) => w.terminate()));
        throw error;
      }

      console.error(`live: ${n} subscriber(s): ${events} messages at ${rate}/s…`);
      const publisher = clientWorker({
        role: "publisher",
        baseUrl: base,
        token,
        sessionId,
        warmup: WARMUP_EVENTS,
        events,
        rate,
        measuredPrefix: MEASURED,
      });
      let published: Extract<ClientReport, { type: "published" }>;
      let busy: number;
      let cpuPerMessage: number | undefined;
      try {
        await nextReport(publisher); // "publishing": the warm-up is over
        const elu = performance.eventLoopUtilization();
        const cpuBefore = mainThreadCpuMs();
        published = (await nextReport(publisher)) as typeof published;
        busy = performance.eventLoopUtilization(elu).utilization;
        const cpuAfter = mainThreadCpuMs();
        if (cpuBefore !== undefined && cpuAfter !== undefined)
          cpuPerMessage = (cpuAfter - cpuBefore) / events;
      } catch (error) {
        await Promise.all([...workers, publisher].map((w) => w.terminate()));
        throw error;
      }
      await publisher.terminate();

      const results = await Promise.all(
        workers.map((worker) => {
          const result = nextReport(worker);
          worker.postMessage({
            type: "drain",
            expected: events,
            timeoutMs: 15_000,
          } satisfies SubscriberCommand);
          return result;
        }),
      );
      const parts = results.flatMap((r) => (r.type === "result" ? [r] : []));
      const latencies = new Float64Array(parts.reduce((sum, r) => sum + r.latencies.length, 0));
      let filled = 0;
      for (const r of parts) {
        latencies.set(r.latencies, filled);
        filled += r.latencies.length;
      }
      latencies.sort();
      const postMs = published.postMs.sort((a, b) => a - b);
      runs.push({
        subscribers: n,
        connectMs,
        latencies,
        missing: parts.reduce((sum, r) => sum + r.missing, 0),
        errors: parts.reduce((sum, r) => sum + r.errors, 0),
        postP50: percentile(postMs, 0.5),
        elu: busy,
        cpuPerMessage,
        lagMs: published.lagMs,
      });
    }

    const baseline = runs[0]!;
    const baseP95 = percentile(baseline.latencies, 0.95);
    const fixed = (v: number | undefined, width: number) =>
      (v === undefined || Number.isNaN(v) ? "–" : v < 10 ? v.toFixed(1) : v.toFixed(0)).padStart(width);
    console.log(
      `\nMimic live-events bench — ${db.label}, ${events} messages at ${rate}/s per run, subscribers in ≤ ${threads} worker thread(s)`,
    );
    console.log(
      `latency: commit (the message's database timestamp) → receipt, every message × subscriber; database clock offset ${clock.offset.toFixed(1)} ms (±${(clock.rtt / 2).toFixed(1)})`,
    );
    console.log(
      "server CPU and ELU: the server's thread while publishing (PGlite runs in it; PostgreSQL does not)\n",
    );
    console.log(
      `${"subscribers".padEnd(11)} ${"deliveries".padStart(10)} ${"p50 ms".padStart(7)} ${"p95 ms".padStart(7)} ${"p99 ms".padStart(7)} ${"max ms".padStart(7)} ${"p95 × 1 subscriber".padStart(18)} ${"CPU ms/msg".padStart(10)} ${"ELU".padStart(5)} ${"POST p50 ms".padStart(11)} ${"connect s".padStart(9)} missing errors`,
    );
    for (const r of runs) {
      const l = r.latencies;
      console.log(
        [
          String(r.subscribers).padEnd(11),
          String(l.length).padStart(10),
          fixed(percentile(l, 0.5), 7),
          fixed(percentile(l, 0.95), 7),
          fixed(percentile(l, 0.99), 7),
          fixed(l[l.length - 1], 7),
          (percentile(l, 0.95) / baseP95).toFixed(2).padStart(18),
          fixed(r.cpuPerMessage, 10),
          `${(r.elu * 100).toFixed(0)} %`.padStart(5),
          fixed(r.postP50, 11),
          (r.connectMs / 1000).toFixed(1).padStart(9),
          String(r.missing).padStart(7),
          String(r.errors),
        ].join(" "),
      );
      if (r.lagMs > 50)
        console.log(`  (the publisher fell ${r.lagMs.toFixed(0)} ms behind its ${rate}/s schedule)`);
    }
    console.log(
      "goal: p95 < 50 ms at 1,000 subscribers · websocket-shootout (Node, ws, no database): 73 ms at 1,000",
    );
  } finally {
    await app.close();
    await cleanup(db, [registered.user.id]);
    await db.close();
  }
}
