// Agents: the bots under test. A list with report, edit and delete; secrets never come back from the API unmasked.
import type { Agent } from "@mimic/sdk";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { client } from "../api/client";
import { ConfirmDialog, Empty, ErrorMessage, Loading, Pagination } from "../components/bits";
import { Page } from "../components/layout";
import { formatDateTime } from "../lib/format";

/** Where the agent is reached, as its config says. */
export function targetOf(agent: Agent): string {
  const config = agent.config as Record<string, unknown>;
  const target = config.webhook_url ?? config.url ?? config.phone_number;
  return typeof target === "string" ? target : "—";
}

export function AgentsPage() {
  const [params] = useSearchParams();
  const page = Math.max(1, Number(params.get("page")) || 1);
  const queryClient = useQueryClient();
  const agents = useQuery({
    queryKey: ["agents", { page }],
    queryFn: () => client.agents.list({ page, limit: 20 }),
    placeholderData: keepPreviousData,
  });
  const [deleting, setDeleting] = useState<Agent | null>(null);
  const remove = useMutation({
    mutationFn: (agent: Agent) => client.agents.delete(agent.id),
    onSuccess: () => {
      setDeleting(null);
      void queryClient.invalidateQueries({ queryKey: ["agents"] });
    },
  });

  return (
    <Page
      title="Agents"
      description="The bots under test: a webhook, a WebSocket, a WhatsApp number or a voice line."
      actions={
        <Link className="button button-primary" to="/agents/new">
          New agent
        </Link>
      }
    >
      {agents.isPending ? (
        <Loading />
      ) : agents.isError ? (
        <ErrorMessage error={agents.error} retry={() => agents.refetch()} />
      ) : agents.data.data.length === 0 ? (
        <Empty>
          No agents yet. <Link to="/agents/new">Register your bot</Link>.
        </Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">Agents</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Target</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {agents.data.data.map((agent) => (
                  <tr key={agent.id}>
                    <td>
                      <Link to={`/agents/${agent.id}/report`}>{agent.name}</Link>
                    </td>
                    <td>{agent.type}</td>
                    <td className="cell-code">
                      <code>{targetOf(agent)}</code>
                    </td>
                    <td>
                      <span
                        className={`badge ${agent.status === "active" ? "badge-completed" : "badge-stopped"}`}
                      >
                        {agent.status}
                      </span>
                    </td>
                    <td>{formatDateTime(agent.createdAt)}</td>
                    <td className="row-actions">
                      <Link className="button button-small" to={`/agents/${agent.id}/report`}>
                        Report<span className="visually-hidden"> on {agent.name}</span>
                      </Link>
                      <Link className="button button-small" to={`/agents/${agent.id}`}>
                        Edit<span className="visually-hidden"> {agent.name}</span>
                      </Link>
                      <button
                        type="button"
                        className="button button-small button-danger-quiet"
                        onClick={() => setDeleting(agent)}
                      >
                        Delete<span className="visually-hidden"> {agent.name}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pagination
            page={agents.data.pagination.page}
            pages={agents.data.pagination.pages}
            total={agents.data.pagination.total}
            hrefFor={(n) => `/agents?page=${n}`}
          />
        </>
      )}
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${deleting?.name ?? "agent"}?`}
        confirmLabel={remove.isPending ? "Deleting…" : "Delete agent"}
        busy={remove.isPending}
        onConfirm={() => deleting && remove.mutate(deleting)}
        onCancel={() => setDeleting(null)}
      >
        <p>Its running sessions stop. Past sessions stay readable.</p>
        {remove.isError && <ErrorMessage error={remove.error} />}
      </ConfirmDialog>
    </Page>
  );
}
