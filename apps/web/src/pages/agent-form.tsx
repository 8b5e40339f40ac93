// Create or edit an agent. The config's fields follow its type. Secrets are write-only: the API shows them masked
// (`****7890`); left empty here, the stored one is kept (the masked value goes back, which the API reads as "keep").
import type { Agent, CreateAgentRequest } from "@mimic/sdk";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { client } from "../api/client";
import { ErrorMessage, Loading } from "../components/bits";
import { Field, Form, type FormErrors, numberOrUndefined, toFormErrors } from "../components/form";
import { Page } from "../components/layout";
import { type PairDraft, PairsEditor, pairsOf } from "../components/pairs-editor";

type AgentType = Agent["type"];

interface ConfigField {
  name: string;
  label: string;
  hint?: string;
  secret?: boolean;
  number?: boolean;
  placeholder?: string;
}

const CONFIG_FIELDS: Record<AgentType, ConfigField[]> = {
  webhook: [
    { name: "webhook_url", label: "Webhook URL", placeholder: "https://bot.example.com/webhook" },
    { name: "secret", label: "Signing secret", secret: true, hint: "Signs each request (Mimic-Signature)." },
    { name: "api_key", label: "API key", secret: true, hint: "Lets the bot post replies later (202/204)." },
    { name: "timeout_ms", label: "Timeout (ms)", number: true, placeholder: "10000" },
  ],
  websocket: [
    { name: "url", label: "WebSocket URL", placeholder: "wss://bot.example.com/ws" },
    { name: "api_key", label: "API key", secret: true, hint: "Sent as a Bearer token when connecting." },
  ],
  whatsapp: [
    { name: "webhook_url", label: "Bot webhook URL", placeholder: "https://bot.example.com/whatsapp" },
    { name: "phone_number", label: "Phone number (E.164)", placeholder: "+15551234567" },
    { name: "phone_number_id", label: "Phone number id" },
    { name: "api_key", label: "Access token", secret: true },
    { name: "app_secret", label: "App secret", secret: true, hint: "Signs inbound webhooks." },
    { name: "verify_token", label: "Verify token", secret: true },
  ],
  voice: [
    { name: "phone_number", label: "Phone number (E.164)", placeholder: "+15551234567" },
    { name: "url", label: "Media stream URL", placeholder: "wss://bot.example.com/voice" },
    { name: "api_key", label: "API key", secret: true },
  ],
};

const HAS_HEADERS: AgentType[] = ["webhook", "websocket"];
const TYPE_LABEL: Record<AgentType, string> = {
  webhook: "Webhook (HTTP POST)",
  websocket: "WebSocket",
  whatsapp: "WhatsApp (Cloud API)",
  voice: "Voice (Twilio Media Streams)",
};

export function AgentFormPage() {
  const { id } = useParams();
  const agent = useQuery({
    queryKey: ["agent", id],
    queryFn: () => client.agents.get(id!),
    enabled: id !== undefined,
  });
  if (id && agent.isPending) return <Loading />;
  if (id && agent.isError) return <ErrorMessage error={agent.error} retry={() => agent.refetch()} />;
  return <AgentForm key={id ?? "new"} agent={agent.data} />;
}

function AgentForm({ agent }: { agent: Agent | undefined }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const stored = (agent?.config ?? {}) as Record<string, unknown>;
  const [name, setName] = useState(agent?.name ?? "");
  const [type, setType] = useState<AgentType>(agent?.type ?? "webhook");
  const [status, setStatus] = useState(agent?.status ?? "active");
  const [config, setConfig] = useState<Record<string, string>>(() =>
    Object.fromEntries(
      Object.values(CONFIG_FIELDS)
        .flat()
        .filter((field) => !field.secret && stored[field.name] !== undefined)
        .map((field) => [field.name, String(stored[field.name])]),
    ),
  );
  /** Secrets the user asked to remove. */
  const [cleared, setCleared] = useState<Set<string>>(new Set());
  const [headers, setHeaders] = useState<PairDraft[]>(() =>
    Object.entries((stored.headers as Record<string, string> | undefined) ?? {}).map(([key, value], i) => ({
      id: i,
      key,
      value,
    })),
  );
  const [errors, setErrors] = useState<FormErrors | null>(null);

  const save = useMutation({
    mutationFn: () => {
      const body: Record<string, unknown> = {};
      for (const field of CONFIG_FIELDS[type]) {
        const value = config[field.name]?.trim() ?? "";
        if (value) body[field.name] = field.number ? numberOrUndefined(value) : value;
        else if (field.secret && typeof stored[field.name] === "string" && !cleared.has(field.name))
          body[field.name] = stored[field.name];
      }
      const headerValues = pairsOf(headers);
      if (HAS_HEADERS.includes(type) && Object.keys(headerValues).length > 0) body.headers = headerValues;
      const request = { name, type, status, config: body } as CreateAgentRequest;
      return agent ? client.agents.update(agent.id, request) : client.agents.create(request);
    },
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: ["agents"] });
      queryClient.setQueryData(["agent", saved.id], saved);
      navigate("/agents");
    },
    onError: (error) => setErrors(toFormErrors(error)),
  });

  const title = agent ? `Edit ${agent.name}` : "New agent";
  return (
    <Page title={title}>
      <Form label={title} errors={errors} onSubmit={() => save.mutate()}>
        <div className="grid-2">
          <Field name="name" label="Name">
            {(props) => <input {...props} value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <Field name="type" label="Type">
            {(props) => (
              <select {...props} value={type} onChange={(e) => setType(e.target.value as AgentType)}>
                {(Object.keys(TYPE_LABEL) as AgentType[]).map((t) => (
                  <option key={t} value={t}>
                    {TYPE_LABEL[t]}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <div className="checkbox">
          <input
            id="agent-active"
            type="checkbox"
            checked={status === "active"}
            onChange={(e) => setStatus(e.target.checked ? "active" : "inactive")}
          />
          <label htmlFor="agent-active">Active (inactive agents cannot start new sessions)</label>
        </div>
        <fieldset className="fieldset">
          <legend>Connection</legend>
          {CONFIG_FIELDS[type].map((field) => {
            const masked =
              field.secret && typeof stored[field.name] === "string" ? String(stored[field.name]) : null;
            return (
              <Field
                key={`${type}-${field.name}`}
                name={`config.${field.name}`}
                label={field.label}
                prefix
                hint={
                  masked && !cleared.has(field.name)
                    ? `Stored (${masked}). Leave empty to keep it.`
                    : field.hint
                }
              >
                {(props) => (
                  <div className="input-row">
                    <input
                      {...props}
                      type={field.secret ? "password" : "text"}
                      autoComplete={field.secret ? "new-password" : "off"}
                      inputMode={field.number ? "numeric" : undefined}
                      placeholder={field.placeholder}
                      value={config[field.name] ?? ""}
                      onChange={(e) =>
                        setConfig((previous) => ({ ...previous, [field.name]: e.target.value }))
                      }
                    />
                    {masked && !cleared.has(field.name) && (
                      <button
                        type="button"
                        className="button button-quiet"
                        onClick={() => setCleared((previous) => new Set(previous).add(field.name))}
                      >
                        Remove<span className="visually-hidden"> the stored {field.label.toLowerCase()}</span>
                      </button>
                    )}
                  </div>
                )}
              </Field>
            );
          })}
        </fieldset>
        {HAS_HEADERS.includes(type) && (
          <PairsEditor
            name="config.headers"
            legend="Extra headers"
            hint="Sent with every request. Values are secrets: stored encrypted, shown masked."
            pairs={headers}
            onChange={setHeaders}
            keyLabel="Header"
            secret
          />
        )}
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={save.isPending}>
            {save.isPending ? "Saving…" : agent ? "Save changes" : "Create agent"}
          </button>
          <Link to="/agents" className="button button-quiet">
            Cancel
          </Link>
        </div>
      </Form>
    </Page>
  );
}
