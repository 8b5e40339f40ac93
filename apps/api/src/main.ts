// Starts Mimic: validates config, opens and migrates the database, listens, and shuts down in order.
import { join } from "node:path";
import { createDb } from "@mimic/db";
import { buildApp } from "./app.js";
import { ConfigError, loadConfig } from "./config.js";
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

  const db = createDb(
    config.databaseUrl ? { url: config.databaseUrl } : { dataDir: join(config.dataDir, "pg") },
  );
  await db.migrate();
  const app = await buildApp({ config, db, jwtSecret: resolveJwtSecret(config) });

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
      await app.close(); // drains HTTP
      await db.close();
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, "shutdown failed");
      process.exit(1);
    }
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));

  await app.listen({ host: config.host, port: config.port });
  app.log.info(
    `Mimic API on http://${config.host === "0.0.0.0" ? "localhost" : config.host}:${config.port} — docs at /docs, database: ${db.driver === "pglite" ? `embedded (${join(config.dataDir, "pg")})` : "PostgreSQL"}`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
