// Plays a suite: every scenario × repeat as one session each, at most `concurrency` at once, and waits for each
// verdict. Live events say when a session ends; polling `sessions.get` backs them up (a dropped WebSocket, a
// proxy that blocks upgrades) and fetches the verdict, which is stored a moment after the end. A run that
// outlives its session's duration (plus a margin) is stopped and counts as failed: "timed out".
import {
  AuthenticationError,
  ConnectionError,
  type CreateSessionRequest,
  type Message,
  type MimicClient,
  MimicError,
  type SessionDetail,
  type SessionResult,
} from "@mimic/sdk";
import type { ScenarioSpec } from "./suite.js";

export type Outcome = "passed" | "failed" | "timed_out" | "error";

export interface FailedCheck {
  name: string;
  type: string;
  detail: string;
}

export interface RunResult {
  scenario: string;
  /** 1-based. */
  run: number;
  sessionId: string | undefined;
  outcome: Outcome;
  /** The session's status when the run ended (completed, failed, stopped). */
  status: string | undefined;
  /** Why the session ended, as data (servers that report it). */
  endReason: string | null | undefined;
  /** Why it ended, in words. */
  reason: string | null | undefined;
  result: SessionResult | null | undefined;
  /** Seconds, from the session's own start and end timestamps when it has them. */
  duration: number;
  /** Agent reply latencies, ms. */
  latencies: number[];
  messages: Message[];
  failedChecks: FailedCheck[];
  /** One line on why the run did not pass (empty when it passed). */
  summary: string;
  error?: string | undefined;
  /** What kind of failure an `error` run met: the server's reachability and credentials, or anything else. */
  errorKind?: "connection" | "auth" | "other" | undefined;
}

export interface PlannedScenario {
  spec: ScenarioSpec;
  personaId: string;
  agentId: string;
}

export interface RunnerListener {
  runStarted?(scenario: string, run: number, sessionId: string): void;
  message?(scenario: string, run: number, message: Message): void;
  runFinished?(result: RunResult): void;
}

export interface RunOptions {
  client: MimicClient;
  suiteName: string;
  concurrency: number;
  listener?: RunnerListener;
  /** Deliver transcripts as they happen (--verbose). */
  live?: boolean;
  signal?: AbortSignal;
  /** How often to poll while live events are healthy / when they are not (ms). */
  pollMs?: { live: number; fallback: number };
}

const FINISHED = new Set(["completed", "failed", "stopped"]);
const TIMEOUT_MARGIN_S = 15;

/** The session is over and, unless stopped (stopped sessions get no verdict), its verdict is in. */
export const isSettled = (s: Pick<SessionDetail, "status" | "result">) =>
  s.status === "stopped" || ((s.status === "completed" || s.status === "failed") && s.result !== null);

const sleep = (ms: number, wake: Promise<void>, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    void wake.then(done);
    signal?.addEventListener("abort", done, { once: true });
  });

const errorText = (error: unknown) =>
  error instanceof MimicError
    ? `${error.status ? `${error.status} ` : ""}${error.code ? `${error.code}: ` : ""}${error.message}${
        error.details.length ? ` (${error.details.map((d) => `${d.field}: ${d.message}`).join("; ")})` : ""
      }`
    : error instanceof Error
      ? error.message
      : String(error);

/** Seconds to the millisecond: 3.988, not 3.9880000000000004. */
export const roundMs = (seconds: number) => Math.round(seconds * 1000) / 1000;

function secondsBetween(from: string | null | undefined, to: string | null | undefined): number | undefined {
  if (!from || !to) return undefined;
  return Math.max(0, (Date.parse(to) - Date.parse(from)) / 1000);
}

function summarize(outcome: Outcome, detail: SessionDetail | undefined, failed: FailedCheck[]): string {
  if (outcome === "passed") return "";
  if (failed.length > 0) return failed.map((c) => `${c.name}: ${c.detail}`).join("; ");
  if (detail?.status === "stopped") return `the session was stopped (${detail.reason ?? "no reason given"})`;
  if (detail?.status === "failed") return `the session failed: ${detail.reason ?? "no reason given"}`;
  return detail?.result ? "the verdict did not pass" : "no verdict";
}

/** Runs one session of a scenario to its verdict. Never throws: an API failure becomes an `error` run. */
async function playRun(options: RunOptions, planned: PlannedScenario, run: number): Promise<RunResult> {
  const { client, listener, signal } = options;
  const { spec } = planned;
  const started = Date.now();
  const base = {
    scenario: spec.name,
    run,
    status: undefined,
    endReason: undefined,
    reason: undefined,
    result: undefined,
    latencies: [],
    messages: [],
    failedChecks: [],
  };

  const body: CreateSessionRequest = {
    agentId: planned.agentId,
    personaId: planned.personaId,
    ...(spec.config ? { config: spec.config } : {}),
    ...(spec.checks ? { checks: spec.checks } : {}),
    ...(spec.inheritChecks !== undefined ? { inheritChecks: spec.inheritChecks } : {}),
    metadata: {
      ...spec.metadata,
      "mimic.suite": options.suiteName,
      "mimic.scenario": spec.name,
      "mimic.run": run,
    },
  };
  let sessionId: string | undefined;
  try {
    const session = await client.sessions.create(body, { signal });
    sessionId = session.id;
    listener?.runStarted?.(spec.name, run, session.id);
    const { duration, replyTimeout } = session.config;
    const deadline = started + (duration + replyTimeout + Math.max(TIMEOUT_MARGIN_S, duration * 0.25)) * 1000;
    const { detail, timedOut } = await awaitVerdict(options, session.id, deadline, (message) =>
      listener?.message?.(spec.name, run, message),
    );
    const failedChecks: FailedCheck[] = (detail.result?.checks ?? [])
      .filter((c) => c.status === "failed")
      .map((c) => ({ name: c.name, type: c.type, detail: c.detail }));
    const outcome: Outcome = timedOut ? "timed_out" : detail.result?.passed === true ? "passed" : "failed";
    return {
      ...base,
      sessionId,
      outcome,
      status: detail.status,
      endReason: (detail as { endReason?: string | null }).endReason,
      reason: detail.reason,
      result: detail.result,
      duration: roundMs(
        secondsBetween(detail.startedAt, detail.endedAt) ??
          secondsBetween(detail.createdAt, detail.endedAt) ??
          (Date.now() - started) / 1000,
      ),
      latencies: detail.messages
        .filter((m) => m.senderType === "agent" && typeof m.latencyMs === "number")
        .map((m) => m.latencyMs!),
      messages: detail.messages,
      failedChecks,
      summary: timedOut
        ? `timed out after ${Math.round((Date.now() - started) / 1000)} s (session duration ${duration} s): stopped`
        : summarize(outcome, detail, failedChecks),
    };
  } catch (error) {
    if (sessionId) await client.sessions.stop(sessionId).catch(() => {});
    const text = signal?.aborted ? "interrupted" : errorText(error);
    return {
      ...base,
      sessionId,
      outcome: "error",
      duration: roundMs((Date.now() - started) / 1000),
      summary: sessionId ? text : `could not start the session: ${text}`,
      error: text,
      errorKind:
        error instanceof AuthenticationError
          ? "auth"
          : error instanceof ConnectionError && !signal?.aborted
            ? "connection"
            : "other",
    };
  }
}

async function awaitVerdict(
  options: RunOptions,
  sessionId: string,
  deadline: number,
  onMessage: (message: Message) => void,
): Promise<{ detail: SessionDetail; timedOut: boolean }> {
  const { client, signal } = options;
  const poll = options.pollMs ?? { live: 10_000, fallback: 2_000 };
  const seen = new Set<string>();
  const emit = (message: Message) => {
    if (seen.has(message.id)) return;
    seen.add(message.id);
    if (options.live) onMessage(message);
  };
  let live = false;
  let ended = false;
  let wake = () => {};
  let woken = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const unsubscribe = client.sessions.subscribe(
    sessionId,
    (event) => {
      if (event.type === "session_update") live = true;
      else if (event.type === "new_message") emit({ ...event.data, sessionId } as Message);
      else if (event.type === "session_end") {
        ended = true;
        wake();
      }
    },
    {
      replay: options.live ?? false,
      onError: () => {
        live = false;
        wake();
      },
    },
  );
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason ?? new Error("interrupted");
      const detail = await client.sessions.get(sessionId, { signal });
      for (const message of detail.messages) emit(message);
      if (isSettled(detail)) return { detail, timedOut: false };
      if (Date.now() >= deadline) {
        await client.sessions.stop(sessionId).catch(() => {});
        const after = await client.sessions.get(sessionId).catch(() => detail);
        for (const message of after.messages) emit(message);
        return { detail: after, timedOut: true };
      }
      // Ended: the verdict is a moment away. Live events healthy: they will wake us. Otherwise: poll.
      const wait = ended || FINISHED.has(detail.status) ? 200 : live ? poll.live : poll.fallback;
      await sleep(Math.min(wait, deadline - Date.now()), woken, signal);
      woken = new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    unsubscribe();
  }
}

/**
 * Plays every run of every scenario, `concurrency` sessions at a time, in suite order. Resolves to the runs of
 * each scenario, in run order.
 */
export async function runScenarios(options: RunOptions, planned: PlannedScenario[]): Promise<RunResult[][]> {
  const results: RunResult[][] = planned.map(() => []);
  const queue = planned.flatMap((p, index) =>
    Array.from({ length: p.spec.repeat }, (_, i) => ({ index, planned: p, run: i + 1 })),
  );
  const worker = async () => {
    for (;;) {
      if (options.signal?.aborted) return;
      const task = queue.shift();
      if (!task) return;
      const result = await playRun(options, task.planned, task.run);
      results[task.index]!.push(result);
      options.listener?.runFinished?.(result);
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency, queue.length));
  await Promise.all(Array.from({ length: workers }, worker));
  for (const list of results) list.sort((a, b) => a.run - b.run);
  return results;
}
