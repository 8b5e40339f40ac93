import { type FastifyPluginAsyncTypebox, Type } from "@fastify/type-provider-typebox";
import { type MimicDb, migrationStatus } from "@mimic/db";
import { sql } from "drizzle-orm";
import { API_VERSION } from "../../plugins/openapi.js";

const Check = Type.Union([Type.Literal("ok"), Type.Literal("failing")]);

export const HealthSchema = Type.Object(
  { status: Type.Literal("ok"), version: Type.String(), uptimeSeconds: Type.Number() },
  { $id: "Health" },
);

export const ReadinessSchema = Type.Object(
  {
    status: Type.Union([Type.Literal("ready"), Type.Literal("not_ready")]),
    checks: Type.Object({
      database: Check,
      migrations: Check,
      engine: Type.Union([Check, Type.Literal("disabled")], {
        description:
          "`disabled` when MIMIC_ROLE=api; `failing` when stopped or without a database to work on",
      }),
      events: Type.Union([Type.Literal("ok"), Type.Literal("failing")], {
        description: "The database listener that feeds live events (WebSocket subscribers) is connected",
      }),
    }),
    details: Type.Optional(Type.Array(Type.String())),
  },
  { $id: "Readiness" },
);

export const healthSchemas = [HealthSchema, ReadinessSchema];

const PROBE_TIMEOUT_MS = 2_000;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export const healthRoutes: FastifyPluginAsyncTypebox<{ db: MimicDb }> = async (app, { db }) => {
  app.get(
    "/health",
    {
      config: { public: true },
      schema: {
        operationId: "getHealth",
        tags: ["health"],
        summary: "Liveness: the process is up",
        response: { 200: Type.Ref(HealthSchema) },
      },
    },
    async () => ({
      status: "ok" as const,
      version: API_VERSION,
      uptimeSeconds: Math.round(process.uptime()),
    }),
  );

  app.get(
    "/health/ready",
    {
      config: { public: true },
      schema: {
        operationId: "getReadiness",
        tags: ["health"],
        summary:
          "Readiness: the database answers, its migrations are current, the engine runs (if enabled here) and live events flow",
        response: { 200: Type.Ref(ReadinessSchema), 503: Type.Ref(ReadinessSchema) },
      },
    },
    async (_request, reply) => {
      const checks = {
        database: "failing" as "ok" | "failing",
        migrations: "failing" as "ok" | "failing",
        engine: (app.runner ? "failing" : "disabled") as "ok" | "failing" | "disabled",
        events: (app.events.isListening ? "ok" : "failing") as "ok" | "failing",
      };
      const details: string[] = [];
      try {
        // Bounded: a server that does not answer at all must not hold the probe.
        await withTimeout(
          (async () => {
            await db.db.execute(sql`select 1`);
            checks.database = "ok";
            const status = await migrationStatus(db);
            if (status.applied >= status.expected) checks.migrations = "ok";
            else details.push(`migrations applied ${status.applied}/${status.expected}`);
          })(),
          PROBE_TIMEOUT_MS,
        );
      } catch {
        if (checks.database === "failing") details.push("database unreachable");
        else details.push("migrations unknown");
      }
      if (app.runner) {
        // A runner cannot claim or play a turn without its database.
        if (!app.runner.isRunning) details.push("engine not running");
        else if (checks.database !== "ok") details.push("engine cannot reach the database");
        else checks.engine = "ok";
      }
      if (checks.events === "failing") details.push("live events listener not connected");
      const ready = Object.values(checks).every((check) => check !== "failing");
      return reply
        .status(ready ? 200 : 503)
        .send({ status: ready ? "ready" : "not_ready", checks, ...(details.length ? { details } : {}) });
    },
  );
};
