// A repeat group: the same persona, agent, config and checks run N times. Each run's verdict, the pass rate and
// pass^k (the chance that k runs in a row all pass), refreshed until every run has finished.
import { useQuery } from "@tanstack/react-query";
import { Link, useParams } from "react-router";
import { client } from "../api/client";
import { ErrorMessage, isRunning, Loading, StatusBadge, Verdict } from "../components/bits";
import { Page } from "../components/layout";
import { formatPercent, shortId } from "../lib/format";

export function GroupPage() {
  const { id = "" } = useParams();
  const group = useQuery({
    queryKey: ["group", id],
    queryFn: () => client.sessionGroups.get(id),
    refetchInterval: (query) => (query.state.data?.runs.some((r) => isRunning(r.status)) ? 1500 : false),
  });
  if (group.isPending) return <Loading label="Loading the group…" />;
  if (group.isError) return <ErrorMessage error={group.error} retry={() => group.refetch()} />;
  const g = group.data;
  const running = g.runs.filter((r) => isRunning(r.status)).length;
  return (
    <Page
      title={`Repeat group ${shortId(g.id)}`}
      description={`${g.total} runs of one persona and agent${running ? ` — ${running} still running` : ""}.`}
    >
      <dl className="kpis">
        <div className="kpi">
          <dt>Pass rate</dt>
          <dd>{formatPercent(g.passRate)}</dd>
        </div>
        <div className="kpi">
          <dt>Passed</dt>
          <dd>
            {g.passed} of {g.finished}
          </dd>
        </div>
        <div className="kpi">
          <dt>Finished</dt>
          <dd>
            {g.finished} of {g.total}
          </dd>
        </div>
      </dl>
      <div className="grid-2 align-start">
        <section className="panel" aria-labelledby="runs-title">
          <h2 id="runs-title">Runs</h2>
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Run</th>
                  <th scope="col">Status</th>
                  <th scope="col">Verdict</th>
                  <th scope="col">Ended</th>
                </tr>
              </thead>
              <tbody>
                {g.runs.map((run, index) => (
                  <tr key={run.sessionId}>
                    <td>
                      <Link to={`/sessions/${run.sessionId}`}>Run {index + 1}</Link>
                    </td>
                    <td>
                      <StatusBadge status={run.status} />
                    </td>
                    <td>
                      <Verdict passed={run.passed} />
                    </td>
                    <td>{run.reason ?? <span className="muted">—</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
        <section className="panel" aria-labelledby="passk-title">
          <h2 id="passk-title">pass^k</h2>
          <p className="muted">
            The estimated chance that k runs in a row all pass: C(passed, k) / C(finished, k).
          </p>
          {g.passHatK.length === 0 ? (
            <p className="muted">Comes once runs have finished.</p>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">k</th>
                  <th scope="col">pass^k</th>
                </tr>
              </thead>
              <tbody>
                {g.passHatK.map(({ k, value }) => (
                  <tr key={k}>
                    <th scope="row">{k}</th>
                    <td>
                      <span className="meter" aria-hidden="true">
                        <span style={{ width: `${value * 100}%` }} />
                      </span>
                      {value.toFixed(2)}
                    </td>
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
