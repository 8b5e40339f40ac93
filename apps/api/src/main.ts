// Starts Mimic: validates config, opens and migrates the database (a new embedded one from a migrated template),
// listens, and shuts down in order.
import { join } from "node:path";
import { openDb } from "@mimic/db";
import { buildApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
import type { DemoBot } from "./demo/bot.js";
import { startDemo } from "./demo/seed.js";
import { resolveJwtSecret } from "./lib/jwt-secret.js";

async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }

  const db = await openDb(
    config.databaseUrl
      ? { url: config.databaseUrl, maxConnections: 20 }
      : { dataDir: join(config.dataDir, "pg") },
  );
  // MIMIC_ROLE: "all" serves HTTP and runs the engine, "api" only serves, "worker" only runs the engine.
  const app = await buildApp({
    config,
    db,
    jwtSecret: resolveJwtSecret(config),
    engine: config.role !== "api",
  });

  let demoBot: DemoBot | undefined;
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      app.log.error("shutdown timed out; exiting");
      process.exit(1);
    }, 15_000);
    timer.unref();
    try {
      await demoBot?.close();
      await app.close(); // engine stops claiming and releases its leases, HTTP drains, WebSockets close (1001)
      await db.close();
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, "shutdown failed");
      process.exit(1);
    }
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));

  const database = db.driver === "pglite" ? `embedded (${join(config.dataDir, "pg")})` : "PostgreSQL";
  if (config.role === "worker") {
    await app.ready();
    app.log.info(`Mimic worker ${app.runner?.owner} running sessions — database: ${database}`);
    return;
  }
  await app.listen({ host: config.host, port: config.port });
  const baseUrl = `http://${config.host === "0.0.0.0" ? "localhost" : config.host}:${config.port}`;
  app.log.info(
    `Mimic API on ${baseUrl} — docs at ${baseUrl}/docs, engine: ${app.runner ? "on" : "off"}, database: ${database}`,
  );
  if (config.demo.enabled && app.runner) demoBot = await startDemo(app, db, config, baseUrl);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
