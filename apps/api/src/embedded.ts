// A throwaway Mimic in the caller's process — what `mimic run` uses when no server is configured: PGlite in a
// temporary directory, the engine on, loopback agents allowed, listening on a free 127.0.0.1 port. The caller
// then talks HTTP to it like to any other server; close() removes every trace.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "@mimic/db";
import { buildApp } from "./app.js";
import { loadConfig } from "./config.js";

export interface EmbeddedServerOptions {
  /**
   * Where PGlite keeps its files. Default: a new temporary directory, removed by close(). A directory given
   * here is left in place.
   */
  dataDir?: string;
  /** Server log level (`fatal` … `trace`, `silent`). Default `silent`. */
  logLevel?: string;
  /** Extra settings, as environment variables (MIMIC_ENGINE_POLL_MS, MIMIC_AGENT_TIMEOUT_MS …). */
  env?: Record<string, string>;
}

export interface EmbeddedServer {
  /** `http://127.0.0.1:<port>`: the base URL to give a MimicClient. */
  baseUrl: string;
  /** Stops the engine and the server, closes the database and removes the temporary data. */
  close(): Promise<void>;
}

export async function startEmbeddedServer(options: EmbeddedServerOptions = {}): Promise<EmbeddedServer> {
  const tempDir = options.dataDir ? undefined : await mkdtemp(join(tmpdir(), "mimic-embedded-"));
  const dataDir = options.dataDir ?? tempDir!;
  const removeTemp = async () => {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
  };
  try {
    // Never process.env: a developer's DATABASE_URL or MIMIC_* settings must not reach a throwaway server.
    const config = loadConfig({
      NODE_ENV: "development",
      MIMIC_DATA_DIR: dataDir,
      MIMIC_ALLOW_PRIVATE_TARGETS: "true",
      MIMIC_LOG_LEVEL: options.logLevel ?? "silent",
      MIMIC_ENGINE_POLL_MS: "50",
      // One local user drives everything: rate limits would only get in the way.
      MIMIC_RATE_LIMIT_USER: "1000000",
      MIMIC_RATE_LIMIT_ANON: "1000000",
      MIMIC_RATE_LIMIT_LOGIN: "1000000",
      MIMIC_WS_MAX_CONNECTIONS: "100",
      ...options.env,
      HOST: "127.0.0.1",
      PORT: "0",
    });
    // A new data directory each time: unpacked from the migrated template, not initialised (see openDb).
    const db = await openDb({ dataDir: join(config.dataDir, "pg") });
    try {
      const app = await buildApp({
        config,
        db,
        jwtSecret: randomBytes(36).toString("base64url"), // 48 characters, new every start
        engine: true,
        logger: config.logLevel === "silent" ? false : { level: config.logLevel },
      });
      try {
        await app.listen({ host: "127.0.0.1", port: 0 });
      } catch (error) {
        await app.close();
        throw error;
      }
      const { port } = app.server.address() as AddressInfo;
      let closing: Promise<void> | undefined;
      return {
        baseUrl: `http://127.0.0.1:${port}`,
        close() {
          closing ??= (async () => {
            try {
              await app.close(); // engine releases its leases, HTTP drains, WebSockets close
            } finally {
              await db.close();
              await removeTemp();
            }
          })();
          return closing;
        },
      };
    } catch (error) {
      await db.close();
      throw error;
    }
  } catch (error) {
    await removeTemp();
    throw error;
  }
}
