// One session: its transcript as it happens (live events through the SDK, which reconnects and catches up after a
// lost connection), the verdict with each check, figures, search within it, stop and export.
import {
  ConnectionError,
  type Message,
  MimicError,
  NotFoundError,
  type SessionDetail,
  type SessionEvent,
  type VoiceMessageMeta,
} from "@mimic/sdk";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import { Link, useLocation, useParams } from "react-router";
import { client, liveState } from "../api/client";
import { useNames } from "../api/queries";
import { useStore } from "../api/store";
import {
  ConfirmDialog,
  ErrorMessage,
  isRunning,
  LiveIndicator,
  Loading,
  StatusBadge,
  Verdict,
} from "../components/bits";
import { Page } from "../components/layout";
import { formatDateTime, formatDuration, formatMs, formatTime, shortId } from "../lib/format";

type Format = "json" | "markdown" | "jsonl";
const FORMATS: { format: Format; label: string; type: string; extension: string }[] = [
  { format: "json", label: "JSON", type: "application/json", extension: "json" },
  { format: "markdown", label: "Markdown", type: "text/markdown", extension: "md" },
  { format: "jsonl", label: "JSON Lines", type: "application/x-ndjson", extension: "jsonl" },
];

/** The session with a live event applied. */
function applyEvent(session: SessionDetail, event: SessionEvent): SessionDetail {
  switch (event.type) {
    case "new_message": {
      if (session.messages.some((m) => m.id === event.data.id)) return session;
      const message: Message = { ...event.data, sessionId: session.id };
      return {
        ...session,
        messages: [...session.messages, message],
        metadata: { ...session.metadata, messageCount: session.messages.length + 1 },
      };
    }
    case "session_update":
      return {
        ...session,
        status: event.data.status,
        metadata: { ...session.metadata, messageCount: event.data.messageCount },
      };
    case "session_end":
      return {
        ...session,
        status: event.data.status,
        endReason: event.data.endReason,
        reason: event.data.reason,
        result: event.data.result ?? session.result,
      };
    default:
      return session;
  }
}

export function SessionPage() {
  const { id = "" } = useParams();
  const queryClient = useQueryClient();
  const names = useNames();
  const session = useQuery({ queryKey: ["session", id], queryFn: () => client.sessions.get(id) });
  const running = session.data ? isRunning(session.data.status) : false;
  const live = useStore(liveState);
  // Follows a session seen running until its session_end event (which comes after its last status change).
  const [following, setFollowing] = useState(false);
  useEffect(() => {
    if (running) setFollowing(true);
  }, [running]);

  // Live: every event lands in the cached session.
  useEffect(() => {
    if (!following) return;
    return client.sessions.subscribe(
      id,
      (event) => {
        queryClient.setQueryData<SessionDetail>(["session", id], (current) =>
          current ? applyEvent(current, event) : current,
        );
        if (event.type === "session_end") {
          // The end's timestamps and the final figures.
          void queryClient.invalidateQueries({ queryKey: ["session", id] });
          void queryClient.invalidateQueries({ queryKey: ["sessions"] });
        }
      },
      { replay: true, onEnd: () => setFollowing(false) },
    );
  }, [id, following, queryClient]);

  // A link to one message (`#message-<id>`, from search): bring it into view once the transcript is there.
  const { hash } = useLocation();
  const loaded = session.data !== undefined;
  useEffect(() => {
    if (!loaded || !hash.startsWith("#message-")) return;
    const element = document.getElementById(hash.slice(1));
    element?.scrollIntoView({ block: "center" });
    element?.focus({ preventScroll: true });
  }, [loaded, hash]);

  // Back from a lost connection: the SDK has replayed what was missed; re-read the rest (timestamps, figures).
  const previous = useRef(live);
  useEffect(() => {
    if (previous.current === "reconnecting" && live === "live")
      void queryClient.invalidateQueries({ queryKey: ["session", id] });
    previous.current = live;
  }, [live, id, queryClient]);

  if (session.isPending) return <Loading label="Loading the session…" />;
  if (session.isError) return <ErrorMessage error={session.error} retry={() => session.refetch()} />;
  const s = session.data;
  const title = `${names.persona(s.personaId)} → ${names.agent(s.agentId)}`;

  return (
    <Page
      title={title}
      description={
        <span className="session-meta">
          <StatusBadge status={s.status} />
          <span>Session {shortId(s.id)}</span>
          <span>Started {formatDateTime(s.startedAt ?? s.createdAt)}</span>
          {s.groupId && <Link to={`/groups/${s.groupId}`}>Repeat group</Link>}
          {running && <LiveIndicator />}
        </span>
      }
      actions={<SessionActions session={s} />}
    >
      <div className="session-layout">
        <section className="panel transcript-panel" aria-labelledby="transcript-title">
          <h2 id="transcript-title">Transcript</h2>
          <Transcript
            session={s}
            personaName={names.persona(s.personaId)}
            agentName={names.agent(s.agentId)}
          />
        </section>
        <div className="session-side">
          <VerdictPanel session={s} />
          <StatsPanel session={s} />
          <SearchPanel sessionId={s.id} />
          <ConfigPanel session={s} />
        </div>
      </div>
    </Page>
  );
}

function SessionActions({ session }: { session: SessionDetail }) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  const stop = useMutation({
    mutationFn: () => client.sessions.stop(session.id),
    onSuccess: () => {
      setConfirming(false);
      void queryClient.invalidateQueries({ queryKey: ["session", session.id] });
      void queryClient.invalidateQueries({ queryKey: ["sessions"] });
    },
  });
  const exporting = useMutation({
    mutationFn: async (format: (typeof FORMATS)[number]) => {
      const text = await client.sessions.export(session.id, { format: format.format });
      const url = URL.createObjectURL(new Blob([text], { type: format.type }));
      const link = document.createElement("a");
      link.href = url;
      link.download = `mimic-session-${session.createdAt.slice(0, 10)}-${session.id}.${format.extension}`;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    },
  });
  return (
    <>
      <fieldset className="export">
        <legend className="export-label">Export</legend>
        {FORMATS.map((format) => (
          <button
            key={format.format}
            type="button"
            className="button"
            onClick={() => exporting.mutate(format)}
            disabled={exporting.isPending}
            aria-label={`Export as ${format.label}`}
          >
            {format.label}
          </button>
        ))}
      </fieldset>
      {isRunning(session.status) && (
        <button type="button" className="button button-danger" onClick={() => setConfirming(true)}>
          Stop
        </button>
      )}
      {exporting.isError && <ErrorMessage error={exporting.error} />}
      <ConfirmDialog
        open={confirming}
        title="Stop this session?"
        confirmLabel={stop.isPending ? "Stopping…" : "Stop session"}
        busy={stop.isPending}
        onConfirm={() => stop.mutate()}
        onCancel={() => setConfirming(false)}
      >
        <p>The persona stops talking now. The transcript is kept; a stopped session gets no verdict.</p>
        {stop.isError && <ErrorMessage error={stop.error} />}
      </ConfirmDialog>
    </>
  );
}

const SENDER_LABEL = { persona: "Persona", agent: "Agent", system: "Mimic" } as const;

function Transcript({
  session,
  personaName,
  agentName,
}: {
  session: SessionDetail;
  personaName: string;
  agentName: string;
}) {
  const end = useRef<HTMLDivElement>(null);
  const count = session.messages.length;
  // Follow new messages while the reader is at the bottom.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs when a message arrives.
  useEffect(() => {
    const element = end.current;
    const scroller = element?.parentElement;
    if (!element || !scroller || !isRunning(session.status)) return;
    if (scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 160)
      scroller.scrollTop = scroller.scrollHeight;
  }, [count]);

  if (count === 0) {
    return (
      <p className="muted transcript-empty">
        {isRunning(session.status) ? "Waiting for the first message…" : "No messages."}
      </p>
    );
  }
  return (
    <div className="transcript" role="log" aria-label="Messages" aria-live="polite">
      <ol>
        {session.messages.map((message) => (
          <MessageBubble
            key={message.id}
            message={message}
            sessionId={session.id}
            name={
              message.senderType === "persona"
                ? personaName
                : message.senderType === "agent"
                  ? agentName
                  : SENDER_LABEL.system
            }
          />
        ))}
      </ol>
      {count >= 1000 && (
        <p className="muted">The first 1,000 messages are shown; export the session for all of them.</p>
      )}
      <div ref={end} />
    </div>
  );
}

function MessageBubble({ message, name, sessionId }: { message: Message; name: string; sessionId: string }) {
  // Channel detail (WhatsApp message types, delivery statuses, voice timings …), when the API sends it.
  const metadata = message.metadata;
  const hasMetadata = metadata && typeof metadata === "object" && Object.keys(metadata).length > 0;
  const voice = metadata?.voice;
  return (
    <li id={`message-${message.id}`} className={`message message-${message.senderType}`} tabIndex={-1}>
      <div className="bubble">
        <p className="message-sender">
          <span className="visually-hidden">{SENDER_LABEL[message.senderType]}: </span>
          {name}
        </p>
        <p className="message-content">{message.content}</p>
        <p className="message-meta">
          <time dateTime={message.timestamp}>{formatTime(message.timestamp)}</time>
          {/* On a call the latency is the time to first audio, which the voice timings show. */}
          {message.latencyMs !== null && voice?.firstAudioMs === undefined && (
            <span> · replied in {formatMs(message.latencyMs)}</span>
          )}
          {voice && <VoiceTimings voice={voice} />}
        </p>
        {voice?.audio && <TurnAudio sessionId={sessionId} messageId={message.id} />}
        {hasMetadata && (
          <details className="message-details">
            <summary>Details</summary>
            <MetadataList value={metadata} />
          </details>
        )}
      </div>
    </li>
  );
}

const FINDING_LABEL: Record<NonNullable<VoiceMessageMeta["finding"]>, string> = {
  bad_frame: "Bad frame",
  wrong_stream: "Wrong stream",
  wrong_format: "Wrong audio format",
  unknown_event: "Unknown event",
  mark_misuse: "Mark misuse",
};

/** A call turn's timings in a few words: first audio, talk-over, barge-in, keys pressed, silence, findings. */
function VoiceTimings({ voice }: { voice: VoiceMessageMeta }) {
  const parts: string[] = [];
  if (voice.talkOver) {
    parts.push(
      voice.firstAudioMs !== undefined && voice.firstAudioMs < 0
        ? `talked over (started ${formatMs(-voice.firstAudioMs)} early)`
        : "talked over",
    );
  } else if (voice.firstAudioMs !== undefined) {
    parts.push(`first audio ${formatMs(voice.firstAudioMs)}`);
  }
  if (voice.bargeIn) {
    const { afterMs, clearedAfterMs } = voice.bargeIn;
    parts.push(
      `barged in after ${formatMs(afterMs)} · ${
        clearedAfterMs === null ? "kept talking" : `cleared in ${formatMs(clearedAfterMs)}`
      }`,
    );
  }
  if (voice.dtmf) parts.push(`pressed ${voice.dtmf}`);
  if (voice.silent) parts.push("stayed silent");
  return (
    <>
      {parts.map((part) => (
        <span key={part}> · {part}</span>
      ))}
      {voice.finding && (
        <>
          {" "}
          <span className="badge badge-failed voice-finding">
            <span className="visually-hidden">Finding: </span>
            {FINDING_LABEL[voice.finding] ?? voice.finding}
          </span>
        </>
      )}
    </>
  );
}

type AudioState =
  | { status: "idle" }
  | { status: "loading" }
  | { status: "ready"; url: string }
  | { status: "error"; error: unknown };

/**
 * A turn's recording, fetched through the SDK only when asked for (a call has many turns, and the download needs
 * the Authorization header, so an <audio src> cannot point at the API): a blob: URL, revoked on unmount.
 */
function TurnAudio({ sessionId, messageId }: { sessionId: string; messageId: string }) {
  const [state, setState] = useState<AudioState>({ status: "idle" });
  const player = useRef<HTMLAudioElement>(null);
  const abort = useRef<AbortController | null>(null);
  const url = state.status === "ready" ? state.url : null;
  useEffect(() => {
    if (!url) return;
    // Asked for with a click: start playing (a browser that refuses still shows the controls).
    player.current?.play().catch(() => {});
    return () => URL.revokeObjectURL(url);
  }, [url]);
  useEffect(() => () => abort.current?.abort(), []);

  const load = async () => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setState({ status: "loading" });
    try {
      const blob = await client.sessions.messages.audio(sessionId, messageId, { signal: controller.signal });
      if (controller.signal.aborted) return;
      setState({ status: "ready", url: URL.createObjectURL(blob) });
    } catch (error) {
      if (!controller.signal.aborted) setState({ status: "error", error });
    }
  };

  if (state.status === "ready")
    return (
      <div className="turn-audio">
        {/* biome-ignore lint/a11y/useMediaCaption: a phone call's recording; its transcript is the message above. */}
        <audio ref={player} controls src={state.url} aria-label="Audio of this turn" />
      </div>
    );
  return (
    <div className="turn-audio">
      <button
        type="button"
        className="button button-small"
        onClick={() => void load()}
        disabled={state.status === "loading"}
      >
        {state.status === "loading" ? (
          <>
            Loading<span className="visually-hidden"> the audio of this turn</span>…
          </>
        ) : (
          <>
            <span aria-hidden="true">▶ </span>Play<span className="visually-hidden"> audio of this turn</span>
          </>
        )}
      </button>
      {state.status === "error" && (
        <p className="turn-audio-error" role="alert">
          The audio could not be loaded: {errorText(state.error)}
        </p>
      )}
    </div>
  );
}

const errorText = (error: unknown) =>
  error instanceof NotFoundError
    ? "there is none for this turn."
    : error instanceof ConnectionError
      ? "Mimic could not be reached. Try again."
      : error instanceof MimicError
        ? error.message
        : "something went wrong.";

function MetadataList({ value }: { value: Record<string, unknown> }) {
  return (
    <dl className="metadata">
      {Object.entries(value).map(([key, item]) => (
        <div key={key}>
          <dt>{key}</dt>
          <dd>
            {item !== null && typeof item === "object" && !Array.isArray(item) ? (
              <MetadataList value={item as Record<string, unknown>} />
            ) : (
              <code>{typeof item === "string" ? item : JSON.stringify(item)}</code>
            )}
          </dd>
        </div>
      ))}
    </dl>
  );
}

function VerdictPanel({ session }: { session: SessionDetail }) {
  const result = session.result;
  return (
    <section className="panel" aria-labelledby="verdict-title">
      <h2 id="verdict-title">Verdict</h2>
      {result ? (
        <>
          <output className={`verdict-big ${result.passed ? "verdict-pass" : "verdict-fail"}`}>
            <Verdict passed={result.passed} />
          </output>
          <ul className="check-results">
            {result.checks.map((check) => (
              <li key={`${check.type}-${check.name}`} className={`check-result check-${check.status}`}>
                <span className="check-icon" aria-hidden="true">
                  {check.status === "passed" ? "✓" : check.status === "failed" ? "✗" : "–"}
                </span>
                <span>
                  <span className="check-name">{check.name}</span>{" "}
                  <span className="visually-hidden">{check.status}</span>
                  {check.detail && <span className="check-detail">{check.detail}</span>}
                </span>
              </li>
            ))}
          </ul>
        </>
      ) : isRunning(session.status) ? (
        <p className="muted">The verdict comes when the session ends.</p>
      ) : (
        <p className="muted">No verdict{session.status === "stopped" ? ": the session was stopped." : "."}</p>
      )}
      {session.reason && (
        <p className="end-reason">
          <span className="muted">Ended: </span>
          {session.reason}
        </p>
      )}
    </section>
  );
}

function StatsPanel({ session }: { session: SessionDetail }) {
  const queryClient = useQueryClient();
  const stats = useQuery({
    queryKey: ["session", session.id, "stats"],
    queryFn: () => client.sessions.stats(session.id),
  });
  const count = session.messages.length;
  const status = session.status;
  // New messages and the end change the figures; refresh at most once a second.
  // biome-ignore lint/correctness/useExhaustiveDependencies: count and status are the triggers.
  useEffect(() => {
    const timer = setTimeout(
      () => queryClient.invalidateQueries({ queryKey: ["session", session.id, "stats"] }),
      1000,
    );
    return () => clearTimeout(timer);
  }, [count, status]);
  const data = stats.data;
  return (
    <section className="panel" aria-labelledby="stats-title">
      <h2 id="stats-title">Figures</h2>
      {!data ? (
        stats.isError ? (
          <ErrorMessage error={stats.error} />
        ) : (
          <Loading />
        )
      ) : (
        <dl className="stats">
          <div>
            <dt>Messages</dt>
            <dd>
              {data.messageCount}{" "}
              <span className="muted">
                ({data.bySender.persona} persona, {data.bySender.agent} agent, {data.bySender.system} notes)
              </span>
            </dd>
          </div>
          <div>
            <dt>Reply latency p50</dt>
            <dd>{formatMs(data.replyLatency.p50)}</dd>
          </div>
          <div>
            <dt>Reply latency p95</dt>
            <dd>{formatMs(data.replyLatency.p95)}</dd>
          </div>
          <div>
            <dt>Slowest reply</dt>
            <dd>{formatMs(data.replyLatency.max)}</dd>
          </div>
          <div>
            <dt>Duration</dt>
            <dd>{formatDuration(data.durationSeconds)}</dd>
          </div>
          {data.usage.promptTokens + data.usage.completionTokens > 0 && (
            <div>
              <dt>LLM tokens</dt>
              <dd>
                {data.usage.promptTokens} in, {data.usage.completionTokens} out
              </dd>
            </div>
          )}
        </dl>
      )}
    </section>
  );
}

function SearchPanel({ sessionId }: { sessionId: string }) {
  const [text, setText] = useState("");
  const [q, setQ] = useState("");
  const inputId = useId();
  const results = useQuery({
    queryKey: ["session", sessionId, "search", q],
    queryFn: () => client.sessions.search(sessionId, { q, limit: 50 }),
    enabled: q !== "",
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setQ(text.trim());
  };
  const jump = (messageId: string) => {
    const element = document.getElementById(`message-${messageId}`);
    if (!element) return;
    element.scrollIntoView({ block: "center" });
    element.focus({ preventScroll: true });
    element.classList.add("message-flash");
    setTimeout(() => element.classList.remove("message-flash"), 1600);
  };
  return (
    <section className="panel" aria-labelledby="search-title">
      <h2 id="search-title">Search this session</h2>
      <search aria-label="Search this session">
        <form onSubmit={submit} className="inline-form">
          <label htmlFor={inputId} className="visually-hidden">
            Words to find
          </label>
          <input id={inputId} type="search" value={text} onChange={(e) => setText(e.target.value)} />
          <button type="submit" className="button">
            Search
          </button>
        </form>
      </search>
      {q && (
        <div aria-live="polite" className="search-results">
          {results.isPending ? (
            <Loading label="Searching…" />
          ) : results.isError ? (
            <ErrorMessage error={results.error} />
          ) : (
            <>
              <p className="muted">
                {results.data.count} {results.data.count === 1 ? "match" : "matches"}
              </p>
              <ul>
                {results.data.results.map((hit) => (
                  <li key={hit.id}>
                    <button type="button" className="hit" onClick={() => jump(hit.id)}>
                      <span className="hit-sender">{SENDER_LABEL[hit.senderType]}</span>
                      {/* The API escapes the text and marks matches with <mark>: safe as HTML. */}
                      {/* biome-ignore lint/security/noDangerouslySetInnerHtml: escaped by the API. */}
                      <span dangerouslySetInnerHTML={{ __html: hit.highlight }} />
                    </button>
                  </li>
                ))}
              </ul>
            </>
          )}
        </div>
      )}
    </section>
  );
}

function ConfigPanel({ session }: { session: SessionDetail }) {
  const { config } = session;
  const own = Object.entries(session.metadata).filter(
    ([key]) => key !== "startTime" && key !== "messageCount",
  );
  return (
    <section className="panel" aria-labelledby="config-title">
      <h2 id="config-title">Setup</h2>
      <dl className="stats">
        <div>
          <dt>Duration limit</dt>
          <dd>{formatDuration(config.duration)}</dd>
        </div>
        <div>
          <dt>Max messages</dt>
          <dd>{config.maxMessages}</dd>
        </div>
        <div>
          <dt>Interval</dt>
          <dd>{config.messageInterval} s</dd>
        </div>
        <div>
          <dt>Reply timeout</dt>
          <dd>{config.replyTimeout} s</dd>
        </div>
        <div>
          <dt>Checks</dt>
          <dd>{session.checks.map((check) => check.type.replaceAll("_", " ")).join(", ") || "none"}</dd>
        </div>
      </dl>
      {own.length > 0 && (
        <details>
          <summary>Metadata</summary>
          <MetadataList value={Object.fromEntries(own)} />
        </details>
      )}
    </section>
  );
}
