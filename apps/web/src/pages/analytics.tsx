// Analytics over a chosen range of UTC days: sessions and messages per day, the success rate, and each agent's
// reply latency (p50/p95) and success rate.
import type { AgentAnalytics } from "@mimic/sdk";
import { useQueries, useQuery } from "@tanstack/react-query";
import { useId, useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { client } from "../api/client";
import { useAllAgents, useAllPersonas } from "../api/queries";
import { ErrorMessage, Loading } from "../components/bits";
import { BarList, DailyChart, type Series } from "../components/chart";
import { Page } from "../components/layout";
import { RangePicker, useRange } from "../components/range-picker";
import { formatDuration, formatMs, formatPercent } from "../lib/format";

/** Agents whose latency the page asks for, one request each. */
const MAX_AGENTS = 12;

export function AnalyticsPage() {
  const [params, setParams] = useSearchParams();
  const { startDate, endDate } = useRange();
  const agentId = params.get("agentId") ?? "";
  const personaId = params.get("personaId") ?? "";
  const agents = useAllAgents();
  const personas = useAllPersonas();
  const agentSelect = useId();
  const personaSelect = useId();

  const analytics = useQuery({
    queryKey: ["analytics", startDate, endDate, agentId, personaId],
    queryFn: () =>
      client.analytics.sessions({
        startDate,
        endDate,
        ...(agentId ? { agentId } : {}),
        ...(personaId ? { personaId } : {}),
      }),
  });
  const shownAgents = (agents.data ?? []).filter((a) => !agentId || a.id === agentId).slice(0, MAX_AGENTS);
  const perAgent = useQueries({
    queries: shownAgents.map((agent) => ({
      queryKey: ["agentReport", agent.id, startDate, endDate],
      queryFn: () => client.analytics.agent(agent.id, { startDate, endDate }),
    })),
  });

  const days = useMemo(() => (analytics.data?.dailyStats ?? []).map((d) => d.date), [analytics.data]);
  const volume = useMemo<Series[]>(
    () => [
      {
        label: "Sessions",
        values: (analytics.data?.dailyStats ?? []).map((d) => d.sessions),
        color: "#4f46e5",
        kind: "bars",
      },
    ],
    [analytics.data],
  );
  const messages = useMemo<Series[]>(
    () => [
      {
        label: "Messages",
        values: (analytics.data?.dailyStats ?? []).map((d) => d.messages),
        color: "#0d9488",
        kind: "line",
      },
    ],
    [analytics.data],
  );

  const setFilter = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: true });
  };
  const reports = perAgent.map((q) => q.data).filter((r): r is AgentAnalytics => r !== undefined);

  return (
    <Page title="Analytics" description="Your sessions over a range of UTC days.">
      <div className="filters">
        <RangePicker />
        <div className="field">
          <label htmlFor={agentSelect}>Agent</label>
          <select id={agentSelect} value={agentId} onChange={(e) => setFilter("agentId", e.target.value)}>
            <option value="">All agents</option>
            {(agents.data ?? []).map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor={personaSelect}>Persona</label>
          <select
            id={personaSelect}
            value={personaId}
            onChange={(e) => setFilter("personaId", e.target.value)}
          >
            <option value="">All personas</option>
            {(personas.data ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.name}
              </option>
            ))}
          </select>
        </div>
      </div>

      {analytics.isPending ? (
        <Loading label="Loading analytics…" />
      ) : analytics.isError ? (
        <ErrorMessage error={analytics.error} retry={() => analytics.refetch()} />
      ) : (
        <>
          <dl className="kpis">
            <div className="kpi">
              <dt>Sessions</dt>
              <dd>{analytics.data.totalSessions}</dd>
            </div>
            <div className="kpi">
              <dt>Success rate</dt>
              <dd>{formatPercent(analytics.data.successRate)}</dd>
            </div>
            <div className="kpi">
              <dt>Completed / failed</dt>
              <dd>
                {analytics.data.completedSessions} / {analytics.data.failedSessions}
              </dd>
            </div>
            <div className="kpi">
              <dt>Running now</dt>
              <dd>{analytics.data.activeSessions}</dd>
            </div>
            <div className="kpi">
              <dt>Messages</dt>
              <dd>{analytics.data.totalMessages}</dd>
            </div>
            <div className="kpi">
              <dt>Average duration</dt>
              <dd>{formatDuration(analytics.data.averageDuration)}</dd>
            </div>
          </dl>
          <div className="grid-2 align-start">
            <section className="panel">
              <DailyChart title="Sessions per day" days={days} series={volume} />
            </section>
            <section className="panel">
              <DailyChart title="Messages per day" days={days} series={messages} />
            </section>
          </div>
        </>
      )}

      <section className="panel" aria-labelledby="latency-title">
        <h2 id="latency-title">Agents: reply latency and success rate</h2>
        {agents.isPending || perAgent.some((q) => q.isPending) ? (
          <Loading label="Loading agent figures…" />
        ) : perAgent.some((q) => q.isError) ? (
          <ErrorMessage error={perAgent.find((q) => q.isError)?.error} />
        ) : reports.length === 0 ? (
          <p className="muted">No agents yet.</p>
        ) : (
          <div className="grid-2 align-start">
            <BarList
              title="Reply latency"
              format={formatMs}
              rows={reports
                .filter((r) => r.replyLatency.count > 0)
                .map((r) => ({
                  label: r.name,
                  values: [
                    { name: "p50", value: r.replyLatency.p50, className: "bar-p50" },
                    { name: "p95", value: r.replyLatency.p95, className: "bar-p95" },
                  ],
                }))}
            />
            <div className="table-wrap">
              <table className="table">
                <caption>Per agent</caption>
                <thead>
                  <tr>
                    <th scope="col">Agent</th>
                    <th scope="col">Sessions</th>
                    <th scope="col">Success</th>
                    <th scope="col">p50</th>
                    <th scope="col">p95</th>
                  </tr>
                </thead>
                <tbody>
                  {reports.map((r) => (
                    <tr key={r.agentId}>
                      <th scope="row">
                        <Link to={`/agents/${r.agentId}/report?startDate=${startDate}&endDate=${endDate}`}>
                          {r.name}
                        </Link>
                      </th>
                      <td>{r.totalSessions}</td>
                      <td>{formatPercent(r.successRate)}</td>
                      <td>{formatMs(r.replyLatency.p50)}</td>
                      <td>{formatMs(r.replyLatency.p95)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </div>
        )}
      </section>
    </Page>
  );
}
