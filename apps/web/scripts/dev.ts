// `pnpm dev`: the API (with its demo bot and demo session, reloading on edits) and the dashboard's Vite dev server
// (hot reload, /api and its WebSocket proxied to the API), side by side; prints both URLs once both answer.
// Ctrl-C stops both; if either stops, so does the other.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const API_PORT = Number(process.env.PORT ?? 4000);
const API_URL = `http://localhost:${API_PORT}`;
const WEB_DIR = fileURLToPath(new URL("..", import.meta.url));
// Escape sequences (colours) out of a line, to read URLs from it.
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes start with ESC.
const ANSI = /\u001b\[[0-9;]*m/g;

const children: ChildProcess[] = [];
let stopping = false;

function run(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string>,
  onLine?: (line: string) => void,
) {
  const child = spawn(command, args, {
    cwd: WEB_DIR,
    env: { ...process.env, FORCE_COLOR: process.stdout.isTTY ? "1" : "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: stopping it stops what it started (pnpm → tsx → node).
    detached: true,
  });
  children.push(child);
  const tag = `\u001b[2m[${name}]\u001b[0m `;
  for (const stream of [child.stdout, child.stderr]) {
    let rest = "";
    stream?.on("data", (chunk: Buffer) => {
      const lines = (rest + chunk.toString("utf8")).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        process.stdout.write(`${tag}${line}\n`);
        onLine?.(line.replace(ANSI, ""));
      }
    });
  }
  child.on("exit", (code, signal) => {
    if (!stopping) {
      console.error(`\n${name} stopped (${signal ?? `exit code ${code}`}); stopping the rest.`);
      stop(code ?? 1);
    }
  });
  return child;
}

function stop(code: number) {
  if (stopping) return;
  stopping = true;
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
    }
  }
  // The API drains for a few seconds at most; then go.
  const deadline = setTimeout(() => process.exit(code), 10_000);
  deadline.unref();
  Promise.all(
    children.map((child) => (child.exitCode === null ? new Promise((r) => child.once("exit", r)) : null)),
  ).then(() => process.exit(code));
}

process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));

async function waitFor(url: string, timeoutMs = 120_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !stopping) {
    try {
      const response = await fetch(url);
      if (response.status < 500) return true;
    } catch {
      // Not up yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  return false;
}

let webUrl: string | undefined;
run("api", "pnpm", ["--filter", "@mimic/api", "dev"], {});
run(
  "web",
  "node_modules/.bin/vite",
  ["--clearScreen", "false"],
  { MIMIC_API_URL: `http://127.0.0.1:${API_PORT}` },
  (line) => {
    webUrl ??= /Local:\s+(http\S+)/.exec(line)?.[1]?.replace(/\/$/, "");
  },
);

const [apiUp, webUp] = await Promise.all([
  waitFor(`${API_URL}/health`),
  (async () => {
    while (!webUrl && !stopping) await new Promise((resolve) => setTimeout(resolve, 200));
    return webUrl ? waitFor(webUrl) : false;
  })(),
]);
if (apiUp && webUp) {
  const bold = (text: string) => (process.stdout.isTTY ? `\u001b[1m${text}\u001b[0m` : text);
  console.log(
    [
      "",
      bold("  Mimic is running"),
      `  ➜ Dashboard  ${bold(webUrl!)}   (hot reload; /api proxied to the API)`,
      `  ➜ API        ${bold(API_URL)}   (reference at ${API_URL}/docs)`,
      "  Sign in as demo@mimic.dev / mimic-demo-password. Ctrl-C stops both.",
      "",
    ].join("\n"),
  );
}
