// Repeated runs of one persona/agent pair, grouped so flakiness shows: pass rate and pass^k.
import { agents, type Database, sessions } from "@mimic/db";
import { and, asc, eq } from "drizzle-orm";
import { notFound } from "../../errors.js";
import type { LlmAvailability } from "../../lib/checks.js";
import { UUID_RE } from "../../lib/schemas.js";
import { assertRunnable, findOwnedSession, insertRuns } from "./service.js";

/** C(n, k) as a float (n ≤ a few dozen here). */
function choose(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  let result = 1;
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i;
  return result;
}

/**
 * Starts a new group of `times` runs like `sessionId` (same pair, config, checks and metadata). `times` is the
 * number of runs in total, as `repeat` on create: the source session stays where it was.
 */
export async function repeatSession(
  db: Database,
  userId: string,
  sessionId: string,
  times: number,
  options: LlmAvailability,
) {
  const source = await findOwnedSession(db, userId, sessionId);
  // The agent may have changed since (its url, its type), and the server's config too: the rules of a new
  // session apply.
  const [agent] = await db.select().from(agents).where(eq(agents.id, source.agentId));
  if (agent) assertRunnable(agent, source.checks, options);
  const groupId = crypto.randomUUID();
  await insertRuns(db, {
    userId,
    agentId: source.agentId,
    personaId: source.personaId,
    config: source.config,
    metadata: source.metadata,
    checks: source.checks,
    times,
    groupId,
  });
  return getGroup(db, userId, groupId);
}

export async function getGroup(db: Database, userId: string, groupId: string) {
  if (!UUID_RE.test(groupId)) throw notFound("Session group");
  const runs = await db
    .select({
      sessionId: sessions.id,
      status: sessions.status,
      endReason: sessions.endReason,
      reason: sessions.reason,
      result: sessions.result,
    })
    .from(sessions)
    .where(and(eq(sessions.groupId, groupId), eq(sessions.userId, userId)))
    .orderBy(asc(sessions.createdAt), asc(sessions.id));
  if (runs.length === 0) throw notFound("Session group");
  const judged = runs.filter((r) => r.result);
  const passed = judged.filter((r) => r.result?.passed).length;
  const n = judged.length;
  return {
    id: groupId,
    total: runs.length,
    finished: n,
    passed,
    passRate: n ? passed / n : null,
    // Unbiased estimate of pass^k from n runs with c passes: C(c, k) / C(n, k).
    passHatK: Array.from({ length: n }, (_, i) => ({
      k: i + 1,
      value: choose(passed, i + 1) / choose(n, i + 1),
    })),
    runs: runs.map((r) => ({
      sessionId: r.sessionId,
      status: r.status,
      endReason: r.endReason,
      reason: r.reason,
      passed: r.result ? r.result.passed : null,
    })),
  };
}
