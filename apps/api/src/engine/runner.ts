// The runner: claims due sessions in batches and plays one turn each. Timers live in the database
// (sessions.next_turn_at), so thousands of waiting sessions cost nothing but a few queries per tick.
import { hostname } from "node:os";
import type { AgentType, Message, MimicDb, Session } from "@mimic/db";
import type { FastifyBaseLogger } from "fastify";
import { openAgent } from "../lib/secrets.js";
import type { AgentAdapter, AgentTarget } from "./agents/types.js";
import { Batch } from "./batch.js";
import { WAKE_CHANNEL } from "./events.js";
import { backoffMs, OutboundError, type OutboundPolicy } from "./outbound.js";
import type { PersonaProvider } from "./persona/types.js";
import {
  activate,
  awaitGreeting,
  claimDue,
  completeDeliveries,
  completeVerdict,
  type Delivery,
  type DeliveryOutcome,
  finishSession,
  loadPersonaMessage,
  loadTranscript,
  loadTurnStates,
  nextDueInMs,
  notRunning,
  overLimitNote,
  type PersonaWrite,
  releaseAll,
  releaseClaimed,
  releaseLease,
  renewLease,
  type SessionEnd,
  type TurnState,
  writePersonaMessages,
  writeSystemNote,
} from "./session-store.js";
import { computeVerdict, type Judge } from "./verdict.js";

/** A session whose turn failed is due again this long after its lease went back (no hot loop on a bug). */
const STRANDED_RETRY_MS = 1_000;

/**
 * The shortest wait between two claims when the next session falls due sooner: under steady load a session is claimed
 * within this long of its due time, in claims of many sessions rather than one claim per session.
 */
const MIN_TICK_GAP_MS = 25;

/** How often held adapter resources (bot connections) are checked against the sessions' state, in ms. */
const SWEEP_INTERVAL_MS = 5_000;

/** How long a freshly connected agent may take to greet before the persona speaks (seconds). */
const GREETING_WINDOW_S = 1;

export interface RunnerOptions {
  db: MimicDb;
  adapters: Partial<Record<AgentType, AgentAdapter>>;
  personas: { scripted: PersonaProvider; openai?: PersonaProvider | undefined };
  /** The LLM judge of `llm_judge` checks; those checks are skipped without one. */
  judge?: Judge | undefined;
  policy: OutboundPolicy;
  log: FastifyBaseLogger;
  /** Turns played at once by this process. */
  concurrency: number;
  /** Turns of one user played at once, across every worker. */
  userConcurrency: number;
  pollIntervalMs: number;
  leaseMs: number;
  /** Delivery attempts per persona message before the session fails. */
  maxAttempts: number;
}

export class Runner {
  readonly owner = `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;
  private running = false;
  private inFlight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  /** When `timer` fires (epoch ms). */
  private timerAt = 0;
  private ticking: Promise<void> | undefined;
  private wakeRequested = false;
  /** When the next tick should look again (ms from the end of the last one): the next session falls due then. */
  private nextTickMs: number | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  private lastSweep = Date.now();
  /** Sessions whose turn failed while this worker held them: their leases go back at the next tick. */
  private readonly stranded = new Set<string>();
  /** Turns played since start (benchmarks and /metrics read it). */
  turnsPlayed = 0;
  /** How late each turn started compared with its due time, in ms (a bounded sample for benchmarks). */
  readonly lagSamples: number[] = [];
  /** The turns' two writes, each grouped with those of the other turns in flight into one transaction. */
  private readonly personaWrites = new Batch<PersonaWrite, Message | undefined>((writes) =>
    writePersonaMessages(this.options.db.db, this.owner, writes, this.options.leaseMs),
  );
  private readonly deliveries = new Batch<Delivery, DeliveryOutcome>((items) =>
    completeDeliveries(this.options.db.db, this.owner, items),
  );

  constructor(private readonly options: RunnerOptions) {}

  get isRunning() {
    return this.running;
  }

  async start() {
    if (this.running) return;
    this.running = true;
    // Back from an outage, claim at once: sessions became due while the database was away.
    this.unlisten = await this.options.db.listen(WAKE_CHANNEL, () => this.wake(), {
      onRestored: () => this.wake(),
    });
    this.schedule(0);
  }

  /** Stops claiming, waits for the turns in flight (up to `graceMs`), then hands back every lease. */
  async stop(graceMs = 8_000) {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.timer);
    await this.unlisten?.();
    await this.ticking;
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((resolve) => {
        grace = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(grace);
    await releaseAll(this.options.db.db, this.owner);
    for (const adapter of Object.values(this.options.adapters)) await adapter?.shutdown?.();
  }

  /** Claim now instead of at the next poll (a session was created, a reply arrived). */
  wake() {
    if (!this.running) return;
    if (this.ticking) {
      this.wakeRequested = true;
      return;
    }
    this.schedule(0);
  }

  /**
   * A session this worker handed back falls due at `at` (epoch ms): look again then rather than at the next poll. The
   * next-due query of a tick cannot see it when it was still held at that time.
   */
  private dueAgainAt(at: number) {
    if (!this.running) return;
    const delayMs = Math.max(MIN_TICK_GAP_MS, at - Date.now());
    if (this.ticking) this.nextTickMs = Math.min(this.nextTickMs ?? this.options.pollIntervalMs, delayMs);
    else if (Date.now() + delayMs < this.timerAt) this.schedule(delayMs);
  }

  private schedule(delayMs: number) {
    clearTimeout(this.timer);
    this.timerAt = Date.now() + delayMs;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        if (!this.running) return;
        const again = this.wakeRequested;
        this.wakeRequested = false;
        const next = this.nextTickMs ?? this.options.pollIntervalMs;
        this.nextTickMs = undefined;
        this.schedule(again ? 0 : next);
      });
    }, delayMs);
  }

  private async tick() {
    if (this.stranded.size > 0) {
      const ids = [...this.stranded];
      try {
        await releaseLease(this.options.db.db, ids, this.owner, STRANDED_RETRY_MS);
        for (const id of ids) this.stranded.delete(id);
      } catch {
        return; // Still unreachable: try again at the next tick.
      }
    }
    if (Date.now() - this.lastSweep >= SWEEP_INTERVAL_MS) {
      this.lastSweep = Date.now();
      await this.sweep().catch((error) => this.options.log.warn({ err: error }, "sweep failed"));
    }
    const free = this.options.concurrency - this.inFlight.size;
    if (free <= 0) return;
    let claimed: Awaited<ReturnType<typeof claimDue>>;
    try {
      claimed = await claimDue(
        this.options.db.db,
        this.owner,
        free,
        this.options.leaseMs,
        this.options.userConcurrency,
      );
    } catch (error) {
      this.options.log.error({ err: error }, "claiming due sessions failed");
      return;
    }
    if (!this.running) {
      // Stopped while claiming: hand these back untouched rather than start turns that cannot finish.
      await releaseClaimed(
        this.options.db.db,
        claimed.map((s) => s.id),
        this.owner,
      );
      return;
    }
    if (claimed.length < free) {
      // Everything due is claimed: look again when the next session falls due rather than at the next poll.
      const dueInMs = await nextDueInMs(this.options.db.db).catch(() => undefined);
      if (dueInMs !== undefined)
        this.nextTickMs = Math.min(
          this.nextTickMs ?? this.options.pollIntervalMs,
          Math.max(MIN_TICK_GAP_MS, dueInMs),
        );
    }
    let states: Map<string, TurnState>;
    try {
      states = await loadTurnStates(
        this.options.db.db,
        claimed.filter((s) => !s.verdictPending),
      );
    } catch (error) {
      this.options.log.error({ err: error }, "loading the claimed sessions failed");
      for (const session of claimed) this.stranded.add(session.id);
      return;
    }
    const now = Date.now();
    for (const session of claimed) {
      if (session.nextTurnAt) {
        // Bounded: past 100k samples the older half goes (amortised O(1), unlike shifting one at a time).
        if (this.lagSamples.length >= 100_000) this.lagSamples.splice(0, 50_000);
        this.lagSamples.push(Math.max(0, now - session.nextTurnAt.getTime()));
      }
      const work = session.verdictPending
        ? this.judgeSession(session)
        : this.playTurn(states.get(session.id));
      const turn = work
        .catch((error) => {
          this.options.log.error({ err: error, sessionId: session.id }, "turn failed");
          // Most likely the database went away mid-turn: hand the session back as soon as it answers again
          // rather than leave it waiting for its lease to expire.
          this.stranded.add(session.id);
        })
        .finally(() => {
          this.inFlight.delete(turn);
          this.turnsPlayed++;
          // Slots freed up and work was waiting for them: claim again now, once a quarter of the slots are free
          // (one claim for many turns, rather than one per finished turn).
          if (claimed.length >= free && this.inFlight.size <= (this.options.concurrency * 3) / 4) this.wake();
        });
      this.inFlight.add(turn);
    }
  }

  /** One turn of a claimed session (no state: its persona or agent is gone, and the session ends with them). */
  private async playTurn(state: TurnState | undefined) {
    const { db, log } = this.options;
    if (!state) return;
    let { session } = state;
    const sessionId = session.id;
    const adapter = this.options.adapters[state.agent.type];
    if (!adapter) {
      await finishSession(
        db.db,
        sessionId,
        { reason: "agent_error", detail: `agent type ${state.agent.type} is not supported yet` },
        this.owner,
      );
      return;
    }
    let agent: AgentTarget;
    try {
      agent = openAgent(db.db, state.agent); // secrets decrypted, config typed by the agent's type
    } catch (error) {
      await this.fail(sessionId, error);
      return;
    }
    const base = {
      sessionId,
      agent,
      persona: { id: state.persona.id, name: state.persona.name, voice: state.persona.config.voice },
      policy: this.options.policy,
    };

    if (session.status === "pending") {
      session = (await activate(db.db, sessionId, this.owner)) ?? session;
      if (adapter.open) {
        try {
          await adapter.open(base);
        } catch (error) {
          await this.fail(sessionId, error);
          return;
        }
        // The agent may speak first: give its greeting a moment before the persona opens.
        await awaitGreeting(
          db.db,
          sessionId,
          this.owner,
          Math.min(session.config.replyTimeout, GREETING_WINDOW_S),
        );
        return;
      }
    }

    const { config } = session;
    if (state.expired) {
      await this.end(state, { reason: "duration_limit", detail: "duration limit reached" });
      return;
    }
    const counted = session.messageCount; // persona and agent messages, kept by the database
    if (counted >= config.maxMessages) {
      await this.end(state, { reason: "message_limit", detail: "message limit reached" });
      return;
    }

    // A worker crashed after writing the persona message but before the agent confirmed it: send it again
    // (the agent sees the same messageId) rather than writing a new one.
    let message =
      session.phase === "delivering" && session.turn > 0
        ? await loadPersonaMessage(db.db, sessionId, session.turn - 1)
        : undefined;
    let goalReached = false;
    let giveUp: string | undefined;
    let fresh = false;

    if (!message) {
      // Still awaiting a reply when due again: none came in time (a reply moves the session to idle at once).
      if (session.phase === "awaiting_reply" && session.turn > 0) {
        await writeSystemNote(
          db.db,
          sessionId,
          this.owner,
          session.turn,
          "no-reply",
          `No reply from the agent within ${config.replyTimeout} s.`,
        );
      }
      const provider =
        state.persona.provider === "openai" ? this.options.personas.openai : this.options.personas.scripted;
      if (!provider) {
        await finishSession(
          db.db,
          sessionId,
          {
            reason: "persona_error",
            detail: "the openai persona provider is not configured (set MIMIC_LLM_BASE_URL)",
          },
          this.owner,
        );
        return;
      }
      let next: Awaited<ReturnType<PersonaProvider["next"]>>;
      try {
        const transcript =
          provider.needsTranscript?.(state.persona, session.turn) === false
            ? []
            : await loadTranscript(db.db, sessionId);
        next = await provider.next({
          sessionId,
          persona: state.persona,
          transcript: transcript.map((m) => ({ senderType: m.senderType, content: m.content })),
          turn: session.turn,
        });
      } catch (error) {
        await this.retryOrFail(session.id, session.failures, error, "persona provider failed");
        return;
      }
      goalReached = next.goalReached;
      giveUp = next.giveUp;
      message = await this.personaWrites.submit({ sessionId, content: next.content, usage: next.usage });
      if (!message) return;
      fresh = true;
    }

    // One attempt per turn. A retryable failure hands the session back, due again after a backoff, with the
    // message still `delivering`: the next claim — here or on another worker — sends the same messageId again.
    // Nothing sleeps inside a turn, so a failing bot holds no engine slot while it waits.
    // A bot may also take longer than a lease to answer: the lease is kept alive while the attempt is in
    // flight, so no other worker takes the session over and delivers the same message at the same time.
    const heartbeat = setInterval(
      () => void renewLease(db.db, sessionId, this.owner, this.options.leaseMs).catch(() => undefined),
      Math.max(250, Math.floor(this.options.leaseMs / 3)),
    );
    let result: Awaited<ReturnType<AgentAdapter["deliver"]>>;
    try {
      result = await adapter.deliver({ ...base, message });
    } catch (error) {
      const retryable = error instanceof OutboundError && error.retryable;
      const attempt = session.failures + 1;
      log.warn({ sessionId, attempt, err: (error as Error).message }, "delivery to the agent failed");
      if (!retryable || attempt >= this.options.maxAttempts) await this.fail(sessionId, error);
      else await releaseLease(db.db, [sessionId], this.owner, backoffMs(session.failures), attempt);
      return;
    } finally {
      clearInterval(heartbeat);
    }
    // maxMessages bounds everything recorded: replies past it are dropped, and noted once per session.
    const room = Math.max(0, config.maxMessages - counted - (fresh ? 1 : 0));
    const replies = result.replies.slice(0, room);
    if (replies.length < result.replies.length) {
      await writeSystemNote(db.db, sessionId, this.owner, 0, "over-limit", overLimitNote(config.maxMessages));
    }
    const outcome = await this.deliveries.submit({
      sessionId,
      delivered: message,
      replies,
      open: result.open,
      goalReached,
      giveUp,
    });
    if (outcome?.ended) await adapter.close?.(sessionId);
    else if (outcome?.session.nextTurnAt) this.dueAgainAt(outcome.session.nextTurnAt.getTime());
  }

  /** Closes what adapters hold for sessions that ended without this process hearing of it. */
  private async sweep() {
    for (const adapter of Object.values(this.options.adapters)) {
      const held = adapter?.held?.() ?? [];
      for (const id of await notRunning(this.options.db.db, held)) await adapter?.close?.(id);
    }
  }

  /** An ended session's checks: run them, store the verdict, announce session_end. */
  private async judgeSession(session: Session) {
    const result = await computeVerdict(this.options.db.db, session, this.options.judge);
    await completeVerdict(this.options.db.db, session.id, this.owner, result);
  }

  private async end(state: TurnState, end: SessionEnd) {
    await finishSession(this.options.db.db, state.session.id, end, this.owner);
    await this.options.adapters[state.agent.type]?.close?.(state.session.id);
  }

  private async fail(sessionId: string, error: unknown) {
    const detail = `agent unreachable: ${(error as Error).message}`;
    await finishSession(this.options.db.db, sessionId, { reason: "agent_error", detail }, this.owner);
    for (const adapter of Object.values(this.options.adapters)) await adapter?.close?.(sessionId);
  }

  /** Persona-provider trouble: retry the turn later with backoff, fail the session after maxAttempts. */
  private async retryOrFail(sessionId: string, failures: number, error: unknown, what: string) {
    const retryable = error instanceof OutboundError ? error.retryable : false;
    if (!retryable || failures + 1 >= this.options.maxAttempts) {
      await finishSession(
        this.options.db.db,
        sessionId,
        { reason: "persona_error", detail: `${what}: ${(error as Error).message}` },
        this.owner,
      );
      return;
    }
    await releaseLease(this.options.db.db, [sessionId], this.owner, backoffMs(failures), failures + 1);
  }
}
