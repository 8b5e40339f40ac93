// Analytics, stats and search on a transcript store of `messages` messages (100k by default): each figure
// family is one SQL query, so their time should stay within a small multiple of a primary-key lookup measured
// in the same run (the baseline). Requests go through app.inject: the figures are the API's own time.
import { type MimicDb, rowsOf } from "@mimic/db";
import { sql } from "drizzle-orm";
import { buildApp } from "../src/app.js";
import { loadConfig } from "../src/config.js";
import { openBenchDb } from "./db.js";

export interface AnalyticsBenchOptions {
  messages: number;
  iterations: number;
  databaseUrl: string | undefined;
}

const MESSAGES_PER_SESSION = 50;

/** Seeds one user's sessions over 30 days, 50 messages each, with latencies and verdicts, in a few statements. */
async function seed(db: MimicDb, userId: string, personaId: string, agentId: string, messages: number) {
  const sessionCount = Math.ceil(messages / MESSAGES_PER_SESSION);
  await db.rows(sql`
    insert into sessions (user_id, agent_id, persona_id, status, config, reason, result, created_at, started_at, ended_at)
    select ${userId}, ${agentId}, ${personaId},
           (case when i % 10 = 0 then 'failed' when i % 25 = 0 then 'active' else 'completed' end)::session_status,
           '{"duration":300,"maxMessages":50,"messageInterval":5,"replyTimeout":30}'::jsonb,
           case when i % 10 = 0 then 'agent unreachable: agent answered HTTP 503' else 'message limit reached' end,
           case when i % 25 = 0 then null else jsonb_build_object('passed', i % 3 <> 0, 'checks', '[]'::jsonb) end,
           now() - (i % 30) * interval '1 day' - (i % 1440) * interval '1 minute',
           now() - (i % 30) * interval '1 day' - (i % 1440) * interval '1 minute',
           case when i % 25 = 0 then null else now() - (i % 30) * interval '1 day' - (i % 1440) * interval '1 minute' + (60 + i % 240) * interval '1 second' end
    from generate_series(1, ${sessionCount}) as i
    returning 1`);
  // A fixed vocabulary (a literal: Drizzle would expand a JS array into a row).
  const words = sql.raw(
    `'{order,refund,delivery,parcel,invoice,password,account,thanks,delayed,tracking}'::text[]`,
  );
  await db.rows(sql`
    insert into messages (id, session_id, sender_type, content, latency_ms, timestamp)
    select gen_random_uuid(), s.id,
           (case when n % 2 = 1 then 'persona' else 'agent' end)::sender_type,
           'message ' || n || ' about my ' || (${words})[1 + abs(n + hashtext(s.id::text)) % 10] || ' and the '
             || (${words})[1 + (n * 7) % 10] || ' please',
           case when n % 2 = 0 then 200 + (n * 37 + abs(hashtext(s.id::text))) % 1800 end,
           s.created_at + n * interval '5 seconds'
    from sessions s cross join generate_series(1, ${MESSAGES_PER_SESSION}) as n
    where s.user_id = ${userId}
    returning 1`);
  return sessionCount;
}

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export async function runAnalyticsBench({ messages, iterations, databaseUrl }: AnalyticsBenchOptions) {
  const config = loadConfig({ ...process.env, NODE_ENV: "test", MIMIC_RATE_LIMIT_USER: "1000000000" });
  const db = await openBenchDb(databaseUrl, 10);
  const app = await buildApp({
    config,
    db,
    jwtSecret: "bench-secret-bench-secret-bench-secret-0000",
    logger: false,
  });
  await app.ready();
  const call = async (method: "GET" | "POST", url: string, token?: string, payload?: object) => {
    const res = await app.inject({
      method,
      url,
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
      ...(payload ? { payload } : {}),
    });
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
    return res.json() as Record<string, unknown>;
  };
  const { access_token: token, user } = (await call("POST", "/api/auth/register", undefined, {
    email: `bench-analytics-${Date.now()}@example.com`,
    password: "bench-password",
  })) as { access_token: string; user: { id: string } };
  const persona = await call("POST", "/api/personas", token, { name: "Bench", prompt: "A customer." });
  const agent = await call("POST", "/api/agents", token, {
    name: "Bench bot",
    type: "webhook",
    config: { webhook_url: "https://bot.example.com/hook" },
  });

  process.stderr.write(`analytics: seeding ${messages} messages…\n`);
  const started = performance.now();
  const sessionCount = await seed(db, user.id, String(persona.id), String(agent.id), messages);
  await db.rows(sql`analyze`);
  const seededIn = (performance.now() - started) / 1000;
  const [{ id: sessionId } = { id: "" }] = rowsOf<{ id: string }>(
    await db.db.execute(
      sql`select id from sessions where user_id = ${user.id} order by created_at desc limit 1`,
    ),
  );

  const scenarios: { name: string; url: string }[] = [
    { name: "GET /api/personas/{id} (baseline: pk lookup)", url: `/api/personas/${persona.id}` },
    { name: "GET /api/analytics/sessions (30 days)", url: "/api/analytics/sessions" },
    { name: "GET /api/analytics/sessions?agentId", url: `/api/analytics/sessions?agentId=${agent.id}` },
    { name: "GET /api/analytics/agents/{id}", url: `/api/analytics/agents/${agent.id}` },
    { name: "GET /api/sessions/{id}/stats", url: `/api/sessions/${sessionId}/stats` },
    { name: "GET /api/search?q=refund (all sessions)", url: "/api/search?q=refund&limit=20" },
    { name: "GET /api/sessions/{id}/search?q=refund", url: `/api/sessions/${sessionId}/search?q=refund` },
    { name: "GET /api/sessions?limit=20", url: "/api/sessions?limit=20" },
  ];
  const rows: { name: string; p50: number; p95: number }[] = [];
  for (const s of scenarios) {
    await call("GET", s.url, token); // warm-up
    const times: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t = performance.now();
      await call("GET", s.url, token);
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    rows.push({ name: s.name, p50: percentile(times, 0.5), p95: percentile(times, 0.95) });
  }

  const base = rows[0]!.p50;
  console.log(
    `\nMimic analytics bench — ${db.label}, ${messages.toLocaleString("en")} messages in ${sessionCount.toLocaleString("en")} sessions over 30 days (seeded in ${seededIn.toFixed(1)} s), ${iterations} requests each\n`,
  );
  console.log(
    `${"request".padEnd(46)} ${"p50 ms".padStart(8)} ${"p95 ms".padStart(8)} ${"× baseline".padStart(11)}`,
  );
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(46)} ${r.p50.toFixed(1).padStart(8)} ${r.p95.toFixed(1).padStart(8)} ${(r.p50 / base).toFixed(1).padStart(11)}`,
    );
  }
  await app.close();
  await db.close();
}
