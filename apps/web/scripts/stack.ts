// The whole product on loopback, for the dashboard's end-to-end tests and screenshots: the web app built by Vite,
// the real API serving it (engine on, over a fresh database from @mimic/db/testing — PGlite, or PostgreSQL when
// DATABASE_URL is set), a support bot to talk to, and Debian's Chromium driven by playwright-core.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { buildApp, loadConfig } from "@mimic/api";
import { createTestDb } from "@mimic/db/testing";
import { type Browser, chromium } from "playwright-core";
import { type SupportBot, startSupportBot } from "./support-bot.js";

const WEB_DIR = fileURLToPath(new URL("..", import.meta.url));

/** Builds the web app into `outDir` with the project's Vite config. */
export async function buildWeb(outDir: string): Promise<void> {
  await promisify(execFile)(join(WEB_DIR, "node_modules/.bin/vite"), ["build", "--logLevel", "warn"], {
    cwd: WEB_DIR,
    // The production build, whatever the caller runs under (vitest sets NODE_ENV=test).
    env: { ...process.env, NODE_ENV: "production", MIMIC_WEB_OUT_DIR: outDir },
  });
}

export interface Stack {
  /** `http://127.0.0.1:<port>`: the dashboard at `/`, the API at `/api`. */
  baseUrl: string;
  bot: SupportBot;
  /** Cuts every live-event WebSocket on the server's side, as a network failure would. */
  dropLiveConnections(): void;
  close(): Promise<void>;
}

/**
 * Builds the dashboard (unless `webDir` holds a build) and starts the API serving it, with a bot beside it. `env`
 * adds settings (MIMIC_STT_BASE_URL for voice agents …).
 */
export async function startStack(
  options: { webDir?: string; env?: Record<string, string> } = {},
): Promise<Stack> {
  const temp = await mkdtemp(join(tmpdir(), "mimic-web-"));
  const webDir = options.webDir ?? join(temp, "web");
  const cleanups: (() => Promise<unknown>)[] = [() => rm(temp, { recursive: true, force: true })];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  };
  try {
    const [, db, bot] = await Promise.all([
      options.webDir ? Promise.resolve() : buildWeb(webDir),
      createTestDb(),
      startSupportBot(),
    ]);
    cleanups.push(
      () => db.close(),
      () => bot.close(),
    );
    const config = loadConfig({
      NODE_ENV: "test",
      MIMIC_DATA_DIR: join(temp, "data"),
      MIMIC_WEB_DIR: webDir,
      MIMIC_ALLOW_PRIVATE_TARGETS: "true",
      MIMIC_ENGINE_POLL_MS: "50",
      MIMIC_RATE_LIMIT_USER: "1000000",
      MIMIC_RATE_LIMIT_ANON: "1000000",
      MIMIC_RATE_LIMIT_LOGIN: "1000000",
      MIMIC_WS_MAX_CONNECTIONS: "100",
      ...options.env,
    });
    const app = await buildApp({
      config,
      db,
      jwtSecret: randomBytes(36).toString("base64url"),
      engine: true,
      logger: false,
    });
    cleanups.push(() => app.close());
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as AddressInfo;
    // @fastify/websocket's decoration; its type augmentation is the API's, not ours.
    const sockets = (app as unknown as { websocketServer: { clients: Set<{ terminate(): void }> } })
      .websocketServer;
    return {
      baseUrl: `http://127.0.0.1:${port}`,
      bot,
      dropLiveConnections: () => {
        for (const socket of sockets.clients) socket.terminate();
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Debian's Chromium (`apt-get install chromium`), headless, with nothing reaching out to the network. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}
