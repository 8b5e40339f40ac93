// `pnpm dev` start-up: from the command to GET /health/ready answering 200. Runs the real thing from the repository
// root — dashboard dev server, API with its engine, embedded database and demo bots — on ports of its own, and stops
// it between runs (SIGTERM, as Ctrl-C does) until all of it has exited.
// Cold: a new data directory each run, its database unpacked from the migrated template (saved first if missing;
// the first new database after a migration change is initialised instead, as they all were before, and becomes the
// template). Warm: the data directory the cold run left. Always the embedded database: DATABASE_URL is not passed on
// (the demo would seed it). CPU: every process of the tree until ready (Linux), less disturbed than wall time by
// other jobs on the machine.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { migratedPglite } from "@mimic/db";

export interface StartupBenchOptions {
  /** Cold and warm starts measured each. */
  runs: number;
}

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const TIMEOUT_MS = 120_000;

interface Ports {
  api: number;
  /** The demo bots take this one and the next. */
  demo: number;
  web: number;
}

function freePort(port = 0): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(undefined));
    server.listen({ host: "127.0.0.1", port }, () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

async function freePorts(): Promise<Ports> {
  for (;;) {
    const demo = (await freePort())!;
    if ((await freePort(demo + 1)) === undefined) continue;
    return { api: (await freePort())!, demo, web: (await freePort())! };
  }
}

interface Proc {
  ppid: number;
  /** utime + stime, of the process and of its children it has waited for, in ms. */
  cpuMs: number;
}

/** Every process on the machine (Linux /proc); empty elsewhere. */
function processes(): Map<number, Proc> {
  const all = new Map<number, Proc>();
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return all;
  }
  for (const pid of entries) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Fields 4 (ppid) and 14–17 (utime, stime, cutime, cstime) of the file, in clock ticks of 10 ms.
      const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      all.set(Number(pid), { ppid: Number(f[1]), cpuMs: ticks * 10 });
    } catch {
      // Gone meanwhile.
    }
  }
  return all;
}

/** The pids descended from `root` (itself included) and their CPU time. */
function tree(root: number): { pids: number[]; cpuMs: number | undefined } {
  const all = processes();
  if (all.size === 0) return { pids: [], cpuMs: undefined };
  const pids = [...all.keys()].filter((pid) => {
    for (let p = pid; p > 1; p = all.get(p)?.ppid ?? 0) if (p === root) return true;
    return false;
  });
  return { pids, cpuMs: pids.reduce((sum, pid) => sum + all.get(pid)!.cpuMs, 0) };
}

async function answers(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
    return true;
  } catch (error) {
    return (error as { cause?: { code?: string } }).cause?.code !== "ECONNREFUSED";
  }
}

interface Start {
  readyMs: number;
  cpuMs: number | undefined;
}

/** One `pnpm dev` on `dataDir`, until ready; then stopped, and everything it started gone. */
async function start(dataDir: string, ports: Ports): Promise<Start> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(ports.api),
    MIMIC_DEMO_PORT: String(ports.demo),
    MIMIC_WEB_PORT: String(ports.web),
    MIMIC_DATA_DIR: dataDir,
    FORCE_COLOR: "0",
  };
  delete env.DATABASE_URL;
  const started = performance.now();
  const child: ChildProcess = spawn("pnpm", ["dev"], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, signalled as a terminal's Ctrl-C would signal it.
    detached: true,
  });
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let result: Start | undefined;
  let pids: number[] = [];
  try {
    while (performance.now() - started < TIMEOUT_MS && child.exitCode === null) {
      try {
        const res = await fetch(`http://127.0.0.1:${ports.api}/health/ready`, {
          signal: AbortSignal.timeout(1000),
        });
        if (res.status === 200) {
          const readyMs = performance.now() - started;
          const snapshot = tree(child.pid!);
          pids = snapshot.pids;
          result = { readyMs, cpuMs: snapshot.cpuMs };
          break;
        }
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  } finally {
    if (pids.length === 0) pids = tree(child.pid!).pids;
    if (child.exitCode === null) process.kill(-child.pid!, "SIGTERM");
    await exited;
    // The dashboard and the API run in process groups of their own and drain for a few seconds: the next start
    // must not share the machine with this one's shutdown.
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = performance.now() + 20_000;
    while (performance.now() < deadline) {
      const busy = await Promise.all([ports.api, ports.demo, ports.demo + 1, ports.web].map(answers));
      if (!busy.some(Boolean) && !pids.some(alive)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    for (const pid of pids.filter(alive)) process.kill(pid, "SIGKILL");
  }
  if (!result) throw new Error(`startup: pnpm dev was not ready within ${TIMEOUT_MS / 1000} s:\n${output}`);
  return result;
}

function median(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return Number.isInteger(middle) ? (sorted[middle - 1]! + sorted[middle]!) / 2 : sorted[Math.floor(middle)]!;
}

export async function runStartupBench({ runs }: StartupBenchOptions) {
  // Saved now if missing: the first new database after a migration change becomes the template, at initdb's cost.
  await (await migratedPglite()).close();
  const cold: Start[] = [];
  const warm: Start[] = [];
  for (let i = 0; i < runs; i++) {
    const dir = await mkdtemp(join(tmpdir(), "mimic-startup-"));
    try {
      console.error(`startup: run ${i + 1}/${runs}, cold…`);
      cold.push(await start(dir, await freePorts()));
      console.error(`startup: run ${i + 1}/${runs}, warm…`);
      warm.push(await start(dir, await freePorts()));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(
    "\nMimic `pnpm dev` start-up — command to GET /health/ready 200 (dashboard, API, engine, embedded database, demo bots)\n",
  );
  console.log(`${"start".padEnd(6)} ${"min".padStart(7)} ${"median".padStart(7)} ${"CPU".padStart(7)}  runs`);
  for (const [name, starts] of [
    ["cold", cold],
    ["warm", warm],
  ] as const) {
    const ready = starts.map((r) => r.readyMs);
    const cpu = starts.flatMap((r) => (r.cpuMs === undefined ? [] : [r.cpuMs]));
    console.log(
      `${name.padEnd(6)} ${s(Math.min(...ready)).padStart(7)} ${s(median(ready)).padStart(7)} ${(cpu.length ? s(median(cpu)) : "–").padStart(7)}  ${ready.map(s).join(", ")}`,
    );
  }
  console.log(
    "cold: a new data directory (created from the migrated template) · warm: an existing one · goal: warm < 5 s",
  );
}
