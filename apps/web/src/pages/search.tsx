// Search across every session: PostgreSQL full-text search (web-search syntax: `refund "delivery date" -cancel`),
// ranked, with the API's highlighted excerpts.
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { type FormEvent, useId, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { client } from "../api/client";
import { useAllAgents, useAllPersonas } from "../api/queries";
import { Empty, ErrorMessage, Loading, Pagination } from "../components/bits";
import { Page } from "../components/layout";
import { formatDateTime } from "../lib/format";

const PAGE_SIZE = 20;
const SENDER = { persona: "Persona", agent: "Agent", system: "Mimic" } as const;

export function SearchPage() {
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const agentId = params.get("agentId") ?? "";
  const personaId = params.get("personaId") ?? "";
  const from = params.get("from") ?? "";
  const to = params.get("to") ?? "";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const [draft, setDraft] = useState({ q, agentId, personaId, from, to });
  const agents = useAllAgents();
  const personas = useAllPersonas();
  const ids = { q: useId(), agent: useId(), persona: useId(), from: useId(), to: useId() };

  const results = useQuery({
    queryKey: ["search", q, agentId, personaId, from, to, page],
    queryFn: () =>
      client.search.messages({
        q,
        page,
        limit: PAGE_SIZE,
        ...(agentId ? { agentId } : {}),
        ...(personaId ? { personaId } : {}),
        ...(from ? { from: `${from}T00:00:00Z` } : {}),
        ...(to ? { to: `${to}T23:59:59.999Z` } : {}),
      }),
    enabled: q !== "",
    placeholderData: keepPreviousData,
  });

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [key, value] of Object.entries(draft)) if (value.trim()) next.set(key, value.trim());
    setParams(next);
  };
  const hrefFor = (n: number) => {
    const next = new URLSearchParams(params);
    next.set("page", String(n));
    return `/search?${next}`;
  };

  return (
    <Page title="Search" description="Find words across every transcript.">
      <search aria-label="Search all sessions">
        <form className="filters" onSubmit={submit}>
          <div className="field field-grow">
            <label htmlFor={ids.q}>Words</label>
            <input
              id={ids.q}
              type="search"
              placeholder={'refund "delivery date" -cancel'}
              value={draft.q}
              onChange={(e) => setDraft({ ...draft, q: e.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor={ids.agent}>Agent</label>
            <select
              id={ids.agent}
              value={draft.agentId}
              onChange={(e) => setDraft({ ...draft, agentId: e.target.value })}
            >
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
            <select
              id={ids.persona}
              value={draft.personaId}
              onChange={(e) => setDraft({ ...draft, personaId: e.target.value })}
            >
              <option value="">Any persona</option>
              {(personas.data ?? []).map((p) => (
                <option key={p.id} value={p.id}>
                  {p.name}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor={ids.from}>From</label>
            <input
              id={ids.from}
              type="date"
              value={draft.from}
              onChange={(e) => setDraft({ ...draft, from: e.target.value })}
            />
          </div>
          <div className="field">
            <label htmlFor={ids.to}>To</label>
            <input
              id={ids.to}
              type="date"
              value={draft.to}
              onChange={(e) => setDraft({ ...draft, to: e.target.value })}
            />
          </div>
          <button type="submit" className="button button-primary">
            Search
          </button>
        </form>
      </search>

      <div aria-live="polite">
        {q === "" ? null : results.isPending ? (
          <Loading label="Searching…" />
        ) : results.isError ? (
          <ErrorMessage error={results.error} />
        ) : results.data.count === 0 ? (
          <Empty>No message matches “{q}”.</Empty>
        ) : (
          <p className="result-count">
            {results.data.count} {results.data.count === 1 ? "message matches" : "messages match"} “{q}”
          </p>
        )}
      </div>
      {results.data && results.data.results.length > 0 && (
        <>
          <ol className="search-hits">
            {results.data.results.map((hit) => (
              <li key={hit.id} className="search-hit">
                <p className="search-hit-meta">
                  <span className={`sender sender-${hit.senderType}`}>{SENDER[hit.senderType]}</span>
                  <span className="muted">{formatDateTime(hit.timestamp)}</span>
                  <Link to={`/sessions/${hit.sessionId}#message-${hit.id}`}>Open the session</Link>
                </p>
                {/* The API escapes the text and marks matches with <mark>: safe as HTML. */}
                {/* biome-ignore lint/security/noDangerouslySetInnerHtml: escaped by the API. */}
                <p className="search-hit-text" dangerouslySetInnerHTML={{ __html: hit.highlight }} />
              </li>
            ))}
          </ol>
          <Pagination
            page={page}
            pages={Math.ceil(results.data.count / PAGE_SIZE)}
            total={results.data.count}
            hrefFor={hrefFor}
          />
        </>
      )}
    </Page>
  );
}
