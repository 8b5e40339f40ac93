// Sessions, newest first, filtered by status, agent, persona and day (the filters live in the URL, so a filtered
// list can be bookmarked). Running sessions on the page update live.
import type { ListSessionsQuery, Session, SessionList } from "@mimic/sdk";
import { keepPreviousData, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { client } from "../api/client";
import { useAllAgents, useAllPersonas, useNames } from "../api/queries";
import {
  Empty,
  ErrorMessage,
  isRunning,
  Loading,
  Pagination,
  type SessionStatus,
  StatusBadge,
  Verdict,
} from "../components/bits";
import { Page } from "../components/layout";
import { formatDateTime, formatDuration } from "../lib/format";

const PAGE_SIZE = 20;
/** How far a date filter looks back through the list (the API filters by status, agent and persona only). */
const DATE_SCAN_LIMIT = 2000;
const STATUSES: SessionStatus[] = ["pending", "active", "completed", "failed", "stopped"];

const startOfDay = (day: string) => Date.parse(`${day}T00:00:00Z`);

/**
 * One page of sessions. With a date range, the newest-first list is read until it is older than the range
 * and the page cut from what fell in it.
 */
async function fetchSessions(query: ListSessionsQuery, from: string, to: string): Promise<SessionList> {
  if (!from && !to) return client.sessions.list({ ...query, limit: PAGE_SIZE });
  const after = from ? startOfDay(from) : Number.NEGATIVE_INFINITY;
  const before = to ? startOfDay(to) + 86_400_000 : Number.POSITIVE_INFINITY;
  const matching: Session[] = [];
  let scanned = 0;
  for await (const session of client.sessions.list({ ...query, page: 1, limit: 100 })) {
    const created = Date.parse(session.createdAt);
    if (created < after || ++scanned > DATE_SCAN_LIMIT) break;
    if (created < before) matching.push(session);
  }
  const page = query.page ?? 1;
  return {
    data: matching.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE),
    pagination: {
      page,
      limit: PAGE_SIZE,
      total: matching.length,
      pages: Math.ceil(matching.length / PAGE_SIZE),
    },
  };
}

export function SessionsPage() {
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const agentId = params.get("agentId") ?? "";
  const personaId = params.get("personaId") ?? "";
  const from = params.get("from") ?? "";
  const to = params.get("to") ?? "";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const personas = useAllPersonas();
  const agents = useAllAgents();
  const names = useNames();
  const queryClient = useQueryClient();
  const ids = { status: useId(), agent: useId(), persona: useId(), from: useId(), to: useId() };

  const query: ListSessionsQuery = {
    page,
    ...(status ? { status: status as SessionStatus } : {}),
    ...(agentId ? { agentId } : {}),
    ...(personaId ? { personaId } : {}),
  };
  const sessions = useQuery({
    queryKey: ["sessions", query, from, to],
    queryFn: () => fetchSessions(query, from, to),
    placeholderData: keepPreviousData,
  });

  // Live status badges: the sessions on this page seen running report their changes until they end.
  const [followed, setFollowed] = useState<string[]>([]);
  const running = (sessions.data?.data ?? []).filter((s) => isRunning(s.status)).map((s) => s.id);
  const runningKey = running.join(",");
  // biome-ignore lint/correctness/useExhaustiveDependencies: runningKey stands for `running`.
  useEffect(() => {
    setFollowed((previous) => {
      const next = [...new Set([...previous, ...running])];
      return next.length === previous.length ? previous : next;
    });
  }, [runningKey]);
  const followedKey = followed.join(",");
  // biome-ignore lint/correctness/useExhaustiveDependencies: followedKey stands for `followed`.
  useEffect(() => {
    const unsubscribes = followed.map((id) =>
      client.sessions.subscribe(id, (event) => {
        if (event.type !== "session_update" && event.type !== "session_end") return;
        queryClient.setQueriesData<SessionList>({ queryKey: ["sessions"] }, (list) =>
          list
            ? {
                ...list,
                data: list.data.map((s) =>
                  s.id === id
                    ? {
                        ...s,
                        status: event.data.status,
                        metadata: { ...s.metadata, messageCount: event.data.messageCount },
                        ...(event.type === "session_end"
                          ? { result: event.data.result ?? null, reason: event.data.reason }
                          : {}),
                      }
                    : s,
                ),
              }
            : list,
        );
        if (event.type === "session_end") {
          setFollowed((previous) => previous.filter((followedId) => followedId !== id));
          void queryClient.invalidateQueries({ queryKey: ["sessions"] });
        }
      }),
    );
    return () => {
      for (const unsubscribe of unsubscribes) unsubscribe();
    };
  }, [followedKey, queryClient]);

  const setFilter = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    next.delete("page");
    setParams(next, { replace: true });
  };
  const hrefFor = (n: number) => {
    const next = new URLSearchParams(params);
    next.set("page", String(n));
    return `/sessions?${next}`;
  };
  const filtered = Boolean(status || agentId || personaId || from || to);

  return (
    <Page
      title="Sessions"
      description="Simulated customers talking to your bots."
      actions={
        <Link className="button button-primary" to="/sessions/new">
          Start a session
        </Link>
      }
    >
      <search className="filters" aria-label="Filter sessions">
        <div className="field">
          <label htmlFor={ids.status}>Status</label>
          <select id={ids.status} value={status} onChange={(e) => setFilter("status", e.target.value)}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.agent}>Agent</label>
          <select id={ids.agent} value={agentId} onChange={(e) => setFilter("agentId", e.target.value)}>
            <option value="">Any agent</option>
            {(agents.data ?? []).map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.persona}>Persona</label>
          <select id={ids.persona} value={personaId} onChange={(e) => setFilter("personaId", e.target.value)}>
            <option value="">Any persona</option>
            {(personas.data ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={ids.from}>From (UTC day)</label>
          <input id={ids.from} type="date" value={from} onChange={(e) => setFilter("from", e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={ids.to}>To (UTC day)</label>
          <input id={ids.to} type="date" value={to} onChange={(e) => setFilter("to", e.target.value)} />
        </div>
        {filtered && (
          <button
            type="button"
            className="button button-quiet"
            onClick={() => setParams({}, { replace: true })}
          >
            Clear filters
          </button>
        )}
      </search>

      {sessions.isPending ? (
        <Loading label="Loading sessions…" />
      ) : sessions.isError ? (
        <ErrorMessage error={sessions.error} retry={() => sessions.refetch()} />
      ) : sessions.data.data.length === 0 ? (
        <Empty>
          {filtered ? (
            "No session matches these filters."
          ) : (
            <>
              No sessions yet. <Link to="/sessions/new">Start your first session</Link>.
            </>
          )}
        </Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">Sessions, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Session</th>
                  <th scope="col">Status</th>
                  <th scope="col">Persona → agent</th>
                  <th scope="col">Messages</th>
                  <th scope="col">Duration</th>
                  <th scope="col">Verdict</th>
                </tr>
              </thead>
              <tbody>
                {sessions.data.data.map((session) => (
                  <tr key={session.id}>
                    <td>
                      <Link to={`/sessions/${session.id}`}>{formatDateTime(session.createdAt)}</Link>
                      {session.groupId && <span className="tag">repeat</span>}
                    </td>
                    <td>
                      <StatusBadge status={session.status} />
                    </td>
                    <td>
                      {names.persona(session.personaId)} <span aria-hidden="true">→</span>
                      <span className="visually-hidden"> talking to </span> {names.agent(session.agentId)}
                    </td>
                    <td>{String(session.metadata.messageCount ?? "—")}</td>
                    <td>{durationOf(session)}</td>
                    <td>
                      <Verdict passed={session.result?.passed} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pagination
            page={sessions.data.pagination.page}
            pages={sessions.data.pagination.pages}
            total={sessions.data.pagination.total}
            hrefFor={hrefFor}
          />
        </>
      )}
    </Page>
  );
}

function durationOf(session: Session): string {
  if (!session.startedAt) return "—";
  const end = session.endedAt ? Date.parse(session.endedAt) : Date.now();
  return formatDuration((end - Date.parse(session.startedAt)) / 1000);
}
