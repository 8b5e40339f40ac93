// Personas: the simulated customers. A list with edit and delete; deleting one keeps its past sessions.
import type { Persona } from "@mimic/sdk";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useSearchParams } from "react-router";
import { client } from "../api/client";
import { ConfirmDialog, Empty, ErrorMessage, Loading, Pagination } from "../components/bits";
import { Page } from "../components/layout";
import { formatDateTime } from "../lib/format";

export function PersonasPage() {
  const [params] = useSearchParams();
  const page = Math.max(1, Number(params.get("page")) || 1);
  const queryClient = useQueryClient();
  const personas = useQuery({
    queryKey: ["personas", { page }],
    queryFn: () => client.personas.list({ page, limit: 20 }),
    placeholderData: keepPreviousData,
  });
  const [deleting, setDeleting] = useState<Persona | null>(null);
  const remove = useMutation({
    mutationFn: (persona: Persona) => client.personas.delete(persona.id),
    onSuccess: () => {
      setDeleting(null);
      void queryClient.invalidateQueries({ queryKey: ["personas"] });
    },
  });

  return (
    <Page
      title="Personas"
      description="Simulated customers: who they are, what they want, how patient they are."
      actions={
        <Link className="button button-primary" to="/personas/new">
          New persona
        </Link>
      }
    >
      {personas.isPending ? (
        <Loading />
      ) : personas.isError ? (
        <ErrorMessage error={personas.error} retry={() => personas.refetch()} />
      ) : personas.data.data.length === 0 ? (
        <Empty>
          No personas yet. <Link to="/personas/new">Create one</Link> to start testing your bot.
        </Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">Personas</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Goal</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {personas.data.data.map((persona) => (
                  <tr key={persona.id}>
                    <td>
                      <Link to={`/personas/${persona.id}`}>{persona.name}</Link>
                      {persona.description && <p className="muted cell-note">{persona.description}</p>}
                    </td>
                    <td>{persona.goal ?? <span className="muted">—</span>}</td>
                    <td>{persona.provider}</td>
                    <td>{formatDateTime(persona.createdAt)}</td>
                    <td className="row-actions">
                      <Link className="button button-small" to={`/sessions/new?personaId=${persona.id}`}>
                        Start session<span className="visually-hidden"> with {persona.name}</span>
                      </Link>
                      <Link className="button button-small" to={`/personas/${persona.id}`}>
                        Edit<span className="visually-hidden"> {persona.name}</span>
                      </Link>
                      <button
                        type="button"
                        className="button button-small button-danger-quiet"
                        onClick={() => setDeleting(persona)}
                      >
                        Delete<span className="visually-hidden"> {persona.name}</span>
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pagination
            page={personas.data.pagination.page}
            pages={personas.data.pagination.pages}
            total={personas.data.pagination.total}
            hrefFor={(n) => `/personas?page=${n}`}
          />
        </>
      )}
      <ConfirmDialog
        open={deleting !== null}
        title={`Delete ${deleting?.name ?? "persona"}?`}
        confirmLabel={remove.isPending ? "Deleting…" : "Delete persona"}
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
