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
        description: "`disabled` when MIMIC_ROLE=api",
      }),
    }),
    details: Type.Optional(Type.Array(Type.String())),
  },
  { $id: "Readiness" },
);

export const healthSchemas = [HealthSchema, ReadinessSchema];

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
          "Readiness: the database answers, its migrations are current, and the engine runs (if enabled here)",
        response: { 200: Type.Ref(ReadinessSchema), 503: Type.Ref(ReadinessSchema) },
      },
    },
    async (_request, reply) => {
      const checks = {
        database: "failing" as "ok" | "failing",
        migrations: "failing" as "ok" | "failing",
        engine: (app.runner ? (app.runner.isRunning ? "ok" : "failing") : "disabled") as
          | "ok"
          | "failing"
          | "disabled",
      };
      const details: string[] = [];
      try {
        await db.db.execute(sql`select 1`);
        checks.database = "ok";
        const status = await migrationStatus(db);
        if (status.applied >= status.expected) checks.migrations = "ok";
        else details.push(`migrations applied ${status.applied}/${status.expected}`);
      } catch {
        details.push("database unreachable");
      }
      if (checks.engine === "failing") details.push("engine not running");
      const ready = checks.database === "ok" && checks.migrations === "ok" && checks.engine !== "failing";
      return reply
        .status(ready ? 200 : 503)
        .send({ status: ready ? "ready" : "not_ready", checks, ...(details.length ? { details } : {}) });
    },
  );
};
