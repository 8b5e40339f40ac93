// Start a session: a persona, an agent, limits (empty means the persona's defaults), checks on top of the
// persona's, and how many identical runs to start as one group.
import type { CreateSessionRequest } from "@mimic/sdk";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { client } from "../api/client";
import { useAllAgents, useAllPersonas } from "../api/queries";
import { ErrorMessage, Loading } from "../components/bits";
import { type CheckDraft, ChecksEditor, checksOf } from "../components/checks-editor";
import {
  Field,
  Form,
  type FormErrors,
  numberOrUndefined,
  toFormErrors,
  useFormState,
} from "../components/form";
import { Page } from "../components/layout";

export function StartSessionPage() {
  const [params] = useSearchParams();
  const personas = useAllPersonas();
  const agents = useAllAgents();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [values, set] = useFormState({
    personaId: params.get("personaId") ?? "",
    agentId: params.get("agentId") ?? "",
    duration: "",
    maxMessages: "",
    messageInterval: "",
    replyTimeout: "",
    inheritChecks: true,
    repeat: "1",
  });
  const [checks, setChecks] = useState<CheckDraft[]>([]);
  const [errors, setErrors] = useState<FormErrors | null>(null);

  const personaId = values.personaId || personas.data?.[0]?.id || "";
  const agentId = values.agentId || agents.data?.find((a) => a.status === "active")?.id || "";

  const start = useMutation({
    mutationFn: () => {
      const config: NonNullable<CreateSessionRequest["config"]> = {};
      for (const key of ["duration", "maxMessages", "messageInterval", "replyTimeout"] as const) {
        const value = numberOrUndefined(values[key]);
        if (value !== undefined) config[key] = value;
      }
      const repeat = numberOrUndefined(values.repeat);
      return client.sessions.create({
        personaId,
        agentId,
        ...(Object.keys(config).length > 0 ? { config } : {}),
        ...(checks.length > 0 ? { checks: checksOf(checks) } : {}),
        ...(values.inheritChecks ? {} : { inheritChecks: false }),
        ...(repeat !== undefined && repeat !== 1 ? { repeat } : {}),
      });
    },
    onSuccess: (session) => {
      void queryClient.invalidateQueries({ queryKey: ["sessions"] });
      navigate(session.groupId ? `/groups/${session.groupId}` : `/sessions/${session.id}`);
    },
    onError: (error) => setErrors(toFormErrors(error)),
  });

  if (personas.isPending || agents.isPending) return <Loading />;
  if (personas.isError || agents.isError) return <ErrorMessage error={personas.error ?? agents.error} />;
  if (personas.data.length === 0 || agents.data.length === 0) {
    return (
      <Page title="Start a session">
        <p className="empty">
          A session needs a persona and an agent.{" "}
          {personas.data.length === 0 && <Link to="/personas/new">Create a persona</Link>}
          {personas.data.length === 0 && agents.data.length === 0 && " and "}
          {agents.data.length === 0 && <Link to="/agents/new">register an agent</Link>}.
        </p>
      </Page>
    );
  }

  return (
    <Page
      title="Start a session"
      description="A persona talks to an agent until its goal or a limit ends it."
    >
      <Form label="Start a session" errors={errors} onSubmit={() => start.mutate()}>
        <div className="grid-2">
          <Field name="personaId" label="Persona">
            {(props) => (
              <select {...props} value={personaId} onChange={(e) => set("personaId", e.target.value)}>
                {personas.data.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field name="agentId" label="Agent">
            {(props) => (
              <select {...props} value={agentId} onChange={(e) => set("agentId", e.target.value)}>
                {agents.data.map((a) => (
                  <option key={a.id} value={a.id} disabled={a.status !== "active"}>
                    {a.name} ({a.type}
                    {a.status !== "active" ? ", inactive" : ""})
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <fieldset className="fieldset">
          <legend>Limits</legend>
          <p className="field-hint">Leave a field empty to use the persona's default.</p>
          <div className="grid-4">
            <Field name="config.duration" label="Duration (s)">
              {(props) => (
                <input
                  {...props}
                  inputMode="decimal"
                  placeholder="300"
                  value={values.duration}
                  onChange={(e) => set("duration", e.target.value)}
                />
              )}
            </Field>
            <Field name="config.maxMessages" label="Max messages">
              {(props) => (
                <input
                  {...props}
                  inputMode="numeric"
                  placeholder="50"
                  value={values.maxMessages}
                  onChange={(e) => set("maxMessages", e.target.value)}
                />
              )}
            </Field>
            <Field name="config.messageInterval" label="Interval (s)">
              {(props) => (
                <input
                  {...props}
                  inputMode="decimal"
                  placeholder="5"
                  value={values.messageInterval}
                  onChange={(e) => set("messageInterval", e.target.value)}
                />
              )}
            </Field>
            <Field name="config.replyTimeout" label="Reply timeout (s)">
              {(props) => (
                <input
                  {...props}
                  inputMode="decimal"
                  placeholder="30"
                  value={values.replyTimeout}
                  onChange={(e) => set("replyTimeout", e.target.value)}
                />
              )}
            </Field>
          </div>
        </fieldset>
        <ChecksEditor name="checks" legend="Checks" drafts={checks} onChange={setChecks} />
        <div className="checkbox">
          <input
            id="inherit-checks"
            type="checkbox"
            checked={values.inheritChecks}
            onChange={(e) => set("inheritChecks", e.target.checked)}
          />
          <label htmlFor="inherit-checks">
            Also run the persona's default checks (goal reached, every message answered, its own)
          </label>
        </div>
        <Field
          name="repeat"
          label="Runs"
          hint="More than 1 starts identical runs as a group, with a pass rate."
        >
          {(props) => (
            <input
              {...props}
              inputMode="numeric"
              className="input-short"
              value={values.repeat}
              onChange={(e) => set("repeat", e.target.value)}
            />
          )}
        </Field>
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={start.isPending}>
            {start.isPending ? "Starting…" : "Start"}
          </button>
          <Link to="/sessions" className="button button-quiet">
            Cancel
          </Link>
        </div>
      </Form>
    </Page>
  );
}
