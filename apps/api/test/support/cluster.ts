// A throwaway PostgreSQL cluster of a test's own (initdb + pg_ctl on a free port in a temp dir), so that a test
// can stop and start the server without disturbing the others. Needs PostgreSQL's binaries (Debian's package:
// /usr/lib/postgresql/<version>/bin); as root, the server runs as the `postgres` user (pg_ctl refuses root).
import { execFile } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./processes.js";

const run = promisify(execFile);

/** The newest installed PostgreSQL's bin directory, if any. */
export function postgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : undefined;
}

export interface Cluster {
  url: string;
  port: number;
  /** `pg_ctl stop -m fast`: every connection is closed, the server is gone until start(). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its files. */
  destroy(): Promise<void>;
}

const asRoot = process.getuid?.() === 0;

async function pg(bin: string, tool: string, args: string[]) {
  const [file, argv] = asRoot
    ? ["runuser", ["-u", "postgres", "--", join(bin, tool), ...args]]
    : [join(bin, tool), args];
  return run(file, argv, { timeout: 30_000 });
}

export async function startCluster(): Promise<Cluster> {
  const bin = postgresBin();
  if (!bin) throw new Error("PostgreSQL's binaries are not installed (apt-get install -y postgresql)");
  const dir = mkdtempSync(join(tmpdir(), "mimic-pg-"));
  if (asRoot) {
    chmodSync(dir, 0o755);
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = join(dir, "data");
  await pg(bin, "initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off`;
  const start = async () => {
    await pg(bin, "pg_ctl", ["-D", data, "-l", join(dir, "log"), "-o", options, "-w", "start"]);
  };
  const stop = async () => {
    await pg(bin, "pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"]);
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    async destroy() {
      await stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
