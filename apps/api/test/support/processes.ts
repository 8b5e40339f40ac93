// Mimic as separate OS processes (src/main.ts through tsx), for crash and multi-process tests.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

const apiDir = new URL("../..", import.meta.url).pathname;

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface MimicProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts src/main.ts with `env`; resolves once /health/ready answers (or right away for workers). */
export async function startMimic(env: Record<string, string>): Promise<MimicProcess> {
  const port = env.PORT ?? String(await freePort());
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@mimic/source", "src/main.ts"], {
    cwd: apiDir,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: "development",
      // Workers announce readiness with an info line.
      MIMIC_LOG_LEVEL: env.MIMIC_ROLE === "worker" ? "info" : "warn",
      HOST: "127.0.0.1",
      PORT: port,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (c) => {
    output += c;
  });
  child.stderr?.on("data", (c) => {
    output += c;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const proc: MimicProcess = {
    child,
    url,
    output: () => output,
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  if (env.MIMIC_ROLE === "worker") {
    await waitFor(() => output.includes("running sessions") || child.exitCode !== null, 45_000);
    if (child.exitCode !== null) throw new Error(`worker exited: ${output}`);
    return proc;
  }
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`mimic exited ${child.exitCode}: ${output}`);
    try {
      if ((await fetch(`${url}/health/ready`)).status === 200) return proc;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`mimic did not become ready: ${output}`);
}

export async function waitFor(check: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A small JSON client for a Mimic process. */
export function api(base: string, token?: string) {
  return async <T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(body ? { "content-type": "application/json" } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body ? JSON.stringify(body) : null,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}
