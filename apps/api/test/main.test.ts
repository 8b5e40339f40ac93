// The server as users start it: a real process, real port, real signals.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDb, type TestDb } from "@mimic/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const apiDir = new URL("..", import.meta.url).pathname;
let dataDir: string;
let pgDb: TestDb | undefined;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "mimic-main-"));
  // On PostgreSQL runs, give the process a database of its own.
  if (process.env.DATABASE_URL) pgDb = await createTestDb();
});
afterAll(async () => {
  rmSync(dataDir, { recursive: true, force: true });
  await pgDb?.close();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function start(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, ["--import", "tsx", "--conditions=@mimic/source", "src/main.ts"], {
    cwd: apiDir,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: "development",
      MIMIC_LOG_LEVEL: "warn",
      ...(pgDb?.url ? { DATABASE_URL: pgDb.url } : {}),
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitForReady(url: string, exited: Promise<number | null>) {
  const deadline = Date.now() + 45_000;
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (Date.now() < deadline && !done) {
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error("server did not become ready");
}

describe("main", () => {
  it("listens on HOST:PORT, keeps its data in MIMIC_DATA_DIR, survives a restart, and stops cleanly on SIGTERM", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const env = { PORT: String(port), HOST: "127.0.0.1", MIMIC_DATA_DIR: dataDir };

    const first = start(env);
    await waitForReady(url, first.exited);
    const secretFile = statSync(join(dataDir, "jwt-secret"));
    expect(secretFile.mode & 0o777).toBe(0o600);
    const registered = await fetch(`${url}/api/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "restart@example.com", password: "long-enough-password" }),
    });
    expect(registered.status).toBe(201);
    const { access_token } = (await registered.json()) as { access_token: string };
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);

    // Same data dir, same secret: the token and the account outlive the process.
    const second = start(env);
    await waitForReady(url, second.exited);
    const me = await fetch(`${url}/api/auth/me`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { email: string }).email).toBe("restart@example.com");
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
  });

  it("exits 0 within the drain window on SIGTERM while a client is mid-request", async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = start({
      PORT: String(port),
      HOST: "127.0.0.1",
      MIMIC_DATA_DIR: mkdtempSync(join(tmpdir(), "mimic-drain-")),
      MIMIC_SHUTDOWN_DRAIN_MS: "1000",
    });
    await waitForReady(url, proc.exited);
    // A request whose body never finishes arriving: the connection stays busy.
    const socket = connect(port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write(
      'POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"email":',
    );
    socket.on("error", () => {});
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    proc.child.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(proc.output()).not.toMatch(/shutdown timed out/);
    socket.destroy();
  });

  it("refuses to start in production without a JWT secret, with a clear message", async () => {
    const proc = start({ NODE_ENV: "production", PORT: String(await freePort()), MIMIC_DATA_DIR: dataDir });
    expect(await proc.exited).toBe(78);
    expect(proc.output()).toContain("MIMIC_JWT_SECRET: required when NODE_ENV=production");
  });

  it("names every invalid variable", async () => {
    const proc = start({ PORT: "eighty", MIMIC_JWT_SECRET: "short", MIMIC_DATA_DIR: dataDir });
    expect(await proc.exited).toBe(78);
    expect(proc.output()).toMatch(/PORT: /);
    expect(proc.output()).toMatch(/MIMIC_JWT_SECRET: /);
    expect(proc.output()).not.toContain("short");
  });
});
