// API throughput on a real listening server, each scenario as a ratio of the no-database baseline
// (GET /health) measured in the same run; and the authenticated GET /api/personas/{id} against the same work on a
// bare Fastify 5 route and on an Express 5 route (baselines.ts), also in the same run. Figures, not assertions:
// compare ratios across commits.
// The database is fresh for the run (see db.ts), so repeated runs against one PostgreSQL server stay comparable.
import type { AddressInfo } from "node:net";
import autocannon from "autocannon";
import { buildApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { api } from "../test/support/processes.js";
import { type Baseline, startBareFastify, startExpress } from "./baselines.js";
import { cleanup, openBenchDb } from "./db.js";

export interface ApiBenchOptions {
  /** Seconds per scenario. */
  duration: number;
  /** Concurrent autocannon connections. */
  connections: number;
  /** PostgreSQL URL; undefined → in-memory PGlite. */
  databaseUrl: string | undefined;
}

/**
 * Rounds of the three servers answering the same request (bare Fastify, Mimic, Express): each is measured once per
 * round, Mimic between the other two (their order alternates), and the ratios are taken within each round, then
 * their median. A shared machine's speed drifts by tens of percent within minutes: ratios of measurements taken
 * seconds apart, over several rounds, keep that drift out far better than one measurement each.
 */
const COMPARED_ROUNDS = 5;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

interface Scenario {
  name: string;
  /** One of the servers compared on the same request: measured in every round. */
  compared?: boolean;
  /** Another server than Mimic (a baseline). */
  base?: string;
  method?: "GET" | "POST";
  path: string;
  body?: unknown;
  auth?: string;
}

export async function runApiBench({ duration, connections, databaseUrl }: ApiBenchOptions) {
  const config = loadConfig({
    ...process.env,
    NODE_ENV: "test",
    MIMIC_RATE_LIMIT_USER: "1000000000",
    MIMIC_RATE_LIMIT_ANON: "1000000000",
    MIMIC_RATE_LIMIT_LOGIN: "1000000000",
    // The insert scenario creates personas by the thousand: measure inserts, not quota refusals.
    MIMIC_QUOTA_PERSONAS: "0",
  });
  const db = await openBenchDb(databaseUrl, 20);
  const jwtSecret = "bench-secret-bench-secret-bench-secret-0000";
  const app = await buildApp({ config, db, jwtSecret, logger: false });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  const registered = await api(base)<{ access_token: string; user: { id: string } }>(
    "POST",
    "/api/auth/register",
    { email: `bench-${Date.now()}@example.com`, password: "bench-password" },
  );
  const token = registered.access_token;
  const call = api(base, token);
  const baselines: Baseline[] = [];
  try {
    const { key } = await call<{ key: string }>("POST", "/api/auth/api-keys", { name: "bench" });
    const personaBody = {
      name: "Bench persona",
      prompt: "You are a customer whose parcel is late.",
      traits: { urgency: "high" },
    };
    let personaId = "";
    for (let i = 0; i < 200; i++)
      personaId = (await call<{ id: string }>("POST", "/api/personas", personaBody)).id;
    const agent = await call<{ id: string }>("POST", "/api/agents", {
      name: "Bench bot",
      type: "webhook",
      config: { webhook_url: "https://bot.example.com/hook", secret: "whsec_0123456789" },
    });

    const personaPath = `/api/personas/${personaId}`;
    const [fastify, express] = [await startBareFastify(db, jwtSecret), await startExpress(db, jwtSecret)];
    baselines.push(fastify, express);
    // Equivalent work, checked: the same persona for the same token, 404 for a missing one, 401 without a token.
    const expected = JSON.stringify(await call("GET", personaPath));
    for (const b of baselines) {
      const got = JSON.stringify(await api(b.url, token)("GET", personaPath));
      if (got !== expected) throw new Error(`${b.name} answers ${got}, Mimic ${expected}`);
      const missing = await fetch(`${b.url}/api/personas/${crypto.randomUUID()}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const anonymous = await fetch(`${b.url}${personaPath}`);
      if (missing.status !== 404 || anonymous.status !== 401)
        throw new Error(`${b.name}: missing → ${missing.status}, no token → ${anonymous.status}`);
    }

    const scenarios: Scenario[] = [
      { name: "GET /health (baseline, no database)", path: "/health" },
      {
        name: "GET /api/personas/{id} (JWT, bare Fastify 5)",
        compared: true,
        base: fastify.url,
        path: personaPath,
        auth: token,
      },
      { name: "GET /api/personas/{id} (JWT)", compared: true, path: personaPath, auth: token },
      {
        name: "GET /api/personas/{id} (JWT, Express 5)",
        compared: true,
        base: express.url,
        path: personaPath,
        auth: token,
      },
      { name: "GET /api/agents/{id} (API key)", path: `/api/agents/${agent.id}`, auth: key },
      { name: "GET /api/personas?limit=20 (page + count)", path: "/api/personas?limit=20", auth: token },
      {
        name: "POST /api/personas (insert)",
        method: "POST",
        path: "/api/personas",
        body: personaBody,
        auth: token,
      },
    ];

    type Row = { name: string; rps: number; p50: number; p99: number; errors: number };
    const runs = new Map<string, Row[]>();
    const order = [
      ...scenarios,
      ...Array.from({ length: COMPARED_ROUNDS - 1 }, (_, round) => {
        const compared = scenarios.filter((s) => s.compared);
        return round % 2 === 0 ? compared.reverse() : compared;
      }).flat(),
    ];
    for (const s of order) {
      console.error(`api: ${s.name} (${duration} s)…`);
      const result = await autocannon({
        url: `${s.base ?? base}${s.path}`,
        method: s.method ?? "GET",
        connections,
        duration,
        // The load generator in a thread of its own: in the servers' event loop it would take a share of every
        // request's time, which squeezes the ratios between a fast server and a slow one towards 1.
        workers: 1,
        headers: {
          ...(s.auth ? { authorization: `Bearer ${s.auth}` } : {}),
          ...(s.body ? { "content-type": "application/json" } : {}),
        },
        ...(s.body ? { body: JSON.stringify(s.body) } : {}),
      });
      const row = {
        name: s.name,
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        errors: result.errors + result.non2xx,
      };
      runs.set(s.name, [...(runs.get(s.name) ?? []), row]);
    }
    // Each scenario's median run (by req/s), in the scenarios' order.
    const rows = scenarios.map((s) => {
      const all = runs.get(s.name)!;
      const middle = median(all.map((run) => run.rps));
      return all.find((run) => run.rps === middle)!;
    });

    const baseline = rows[0]!.rps;
    const rps = (name: string) => rows.find((r) => r.name === name)!.rps;
    const mimic = rps("GET /api/personas/{id} (JWT)");
    // Mimic's ratio to another server, round by round.
    const ratios = (other: string) => {
      const theirs = runs.get(other)!;
      return runs.get("GET /api/personas/{id} (JWT)")!.map((run, round) => run.rps / theirs[round]!.rps);
    };
    const toFastify = ratios("GET /api/personas/{id} (JWT, bare Fastify 5)");
    const toExpress = ratios("GET /api/personas/{id} (JWT, Express 5)");
    console.log(
      `\nMimic API bench — ${db.label}, ${connections} connections, ${duration}s per scenario ` +
        `(the three servers on the same request: medians of ${COMPARED_ROUNDS} interleaved rounds)\n`,
    );
    console.log(
      `${"scenario".padEnd(46)} ${"req/s".padStart(9)} ${"p50 ms".padStart(7)} ${"p99 ms".padStart(7)} ${"× baseline".padStart(11)} errors`,
    );
    for (const r of rows) {
      console.log(
        `${r.name.padEnd(46)} ${r.rps.toFixed(0).padStart(9)} ${String(r.p50).padStart(7)} ${String(r.p99).padStart(7)} ${(r.rps / baseline).toFixed(3).padStart(11)} ${r.errors}`,
      );
    }
    // The targets: ≥ 0.8× bare Fastify 5 and ≥ 4× Express 5 on the same request.
    const list = (values: number[]) => values.map((v) => v.toFixed(2)).join(", ");
    console.log(
      `\nGET /api/personas/{id} (JWT): Mimic ${mimic.toFixed(0)} req/s — ` +
        `${median(toFastify).toFixed(2)}× bare Fastify, ${median(toExpress).toFixed(2)}× Express 5 ` +
        `(medians of the rounds' ratios; rounds: ${list(toFastify)} / ${list(toExpress)})`,
    );
  } finally {
    for (const b of baselines) await b.close();
    await app.close();
    await cleanup(db, [registered.user.id]);
    await db.close();
  }
}
