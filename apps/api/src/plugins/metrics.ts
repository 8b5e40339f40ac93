// GET /metrics in Prometheus format: process metrics, HTTP request durations by route, and the engine's work.
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export default fp(
  async (app: FastifyInstance) => {
    // One registry per app: tests build many apps in one process.
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: "mimic_" });
    const requests = new Histogram({
      name: "mimic_http_request_duration_seconds",
      help: "HTTP request duration by method, route and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
    let turnsSeen = 0;
    new Counter({
      name: "mimic_engine_turns_total",
      help: "Turns played (and verdicts run) by this process's engine",
      registers: [registry],
      collect() {
        // The runner keeps the running total; the counter takes what was added since the last scrape.
        const played = app.runner?.turnsPlayed ?? 0;
        this.inc(played - turnsSeen);
        turnsSeen = played;
      },
    });
    new Gauge({
      name: "mimic_engine_running",
      help: "1 when this process runs the engine",
      registers: [registry],
      collect() {
        this.set(app.runner?.isRunning ? 1 : 0);
      },
    });

    app.addHook("onResponse", (request, reply, done) => {
      const route = request.routeOptions.url ?? "unmatched";
      if (route !== "/metrics")
        requests.observe(
          { method: request.method, route, status: String(reply.statusCode) },
          reply.elapsedTime / 1000,
        );
      done();
    });

    app.get(
      "/metrics",
      { schema: { hide: true }, config: { public: true, rateLimit: false } },
      async (_request, reply) => {
        reply.header("content-type", registry.contentType);
        return registry.metrics();
      },
    );
  },
  { name: "metrics" },
);
