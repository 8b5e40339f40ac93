// One agent's report over a range: success rate, reply latency, messages per session, why sessions failed, per day.
import { useQuery } from "@tanstack/react-query";
import { useMemo } from "react";
import { Link, useParams } from "react-router";
import { client } from "../api/client";
import { ErrorMessage, Loading } from "../components/bits";
import { DailyChart, type Series } from "../components/chart";
import { Page } from "../components/layout";
import { RangePicker, useRange } from "../components/range-picker";
import { formatDuration, formatMs, formatPercent } from "../lib/format";

export function AgentReportPage() {
  const { id = "" } = useParams();
  const { startDate, endDate } = useRange();
  const report = useQuery({
    queryKey: ["agentReport", id, startDate, endDate],
    queryFn: () => client.analytics.agent(id, { startDate, endDate }),
  });
  const days = useMemo(() => (report.data?.dailyStats ?? []).map((d) => d.date), [report.data]);
  const series = useMemo<Series[]>(
    () => [
      {
        label: "Sessions",
        values: (report.data?.dailyStats ?? []).map((d) => d.sessions),
        color: "#4f46e5",
        kind: "bars",
      },
    ],
    [report.data],
  );

  if (report.isPending) return <Loading label="Loading the report…" />;
  if (report.isError) return <ErrorMessage error={report.error} retry={() => report.refetch()} />;
  const r = report.data;
  return (
    <Page
      title={`${r.name}: report`}
      actions={
        <>
          <Link className="button" to={`/sessions?agentId=${r.agentId}`}>
            Its sessions
          </Link>
          <Link className="button" to={`/agents/${r.agentId}`}>
            Edit
          </Link>
        </>
      }
    >
      <div className="filters">
        <RangePicker />
      </div>
      <dl className="kpis">
        <div className="kpi">
          <dt>Sessions</dt>
          <dd>{r.totalSessions}</dd>
        </div>
        <div className="kpi">
          <dt>Success rate</dt>
          <dd>{formatPercent(r.successRate)}</dd>
        </div>
        <div className="kpi">
          <dt>Reply p50 / p95</dt>
          <dd>
            {formatMs(r.replyLatency.p50)} / {formatMs(r.replyLatency.p95)}
          </dd>
        </div>
        <div className="kpi">
          <dt>Slowest reply</dt>
          <dd>{formatMs(r.replyLatency.max)}</dd>
        </div>
        <div className="kpi">
          <dt>Messages per session</dt>
          <dd>{r.messagesPerSession === null ? "—" : r.messagesPerSession.toFixed(1)}</dd>
        </div>
        <div className="kpi">
          <dt>Average duration</dt>
          <dd>{formatDuration(r.averageDuration)}</dd>
        </div>
      </dl>
      <div className="grid-2 align-start">
        <section className="panel">
          <DailyChart title="Sessions per day" days={days} series={series} />
        </section>
        <section className="panel" aria-labelledby="failures-title">
          <h2 id="failures-title">Why sessions failed</h2>
          {r.failureReasons.length === 0 ? (
            <p className="muted">No failed sessions in this range.</p>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">End reason</th>
                  <th scope="col">Sessions</th>
                  <th scope="col">Most frequent detail</th>
                </tr>
              </thead>
              <tbody>
                {r.failureReasons.map((f) => (
                  <tr key={f.endReason}>
                    <th scope="row">{f.endReason.replaceAll("_", " ")}</th>
                    <td>{f.count}</td>
                    <td>{f.reason ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
    </Page>
  );
}
