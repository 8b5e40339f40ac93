// Create or edit a persona. Every field maps onto the API's; its 422 details show on the fields they name.
import type { CreatePersonaRequest, Persona, PersonaVoiceConfig } from "@mimic/sdk";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { client } from "../api/client";
import { ErrorMessage, Loading } from "../components/bits";
import { type CheckDraft, ChecksEditor, checksOf, draftsOf } from "../components/checks-editor";
import { Field, Form, type FormErrors, numberOrUndefined, toFormErrors } from "../components/form";
import { Page } from "../components/layout";
import { type PairDraft, PairsEditor, pairsOf } from "../components/pairs-editor";

export function PersonaFormPage() {
  const { id } = useParams();
  const persona = useQuery({
    queryKey: ["persona", id],
    queryFn: () => client.personas.get(id!),
    enabled: id !== undefined,
  });
  if (id && persona.isPending) return <Loading />;
  if (id && persona.isError) return <ErrorMessage error={persona.error} retry={() => persona.refetch()} />;
  return <PersonaForm key={id ?? "new"} persona={persona.data} />;
}

/** The offline (flite) voices a persona can speak with on calls; kal is the API's default. */
const VOICES: { value: NonNullable<PersonaVoiceConfig["voice"]>; label: string }[] = [
  { value: "kal", label: "kal — male, US (default; made for phone audio)" },
  { value: "slt", label: "slt — female, US" },
  { value: "rms", label: "rms — male, US" },
  { value: "awb", label: "awb — male, Scottish" },
];
const DEFAULT_VOICE = "kal";

const text = (value: string | null | undefined) => value ?? "";
const numberText = (value: number | null | undefined) =>
  value === null || value === undefined ? "" : String(value);

function PersonaForm({ persona }: { persona: Persona | undefined }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [values, setValues] = useState({
    name: text(persona?.name),
    description: text(persona?.description),
    prompt: text(persona?.prompt),
    goal: text(persona?.goal),
    script: (persona?.script ?? []).join("\n"),
    provider: persona?.provider ?? "scripted",
    model: text(persona?.model),
    temperature: numberText(persona?.temperature),
    seed: numberText(persona?.seed),
    maxMessages: numberText(persona?.config.maxMessages),
    messageInterval: numberText(persona?.config.messageInterval),
    replyTimeout: numberText(persona?.config.replyTimeout),
    sessionDuration: numberText(persona?.config.sessionDuration),
    voice: persona?.config.voice?.voice ?? DEFAULT_VOICE,
    interruptAfterMs: numberText(persona?.config.voice?.interruptAfterMs),
  });
  const [traits, setTraits] = useState<PairDraft[]>(() =>
    Object.entries(persona?.traits ?? {}).map(([key, value], index) => ({
      id: index,
      key,
      value: String(value),
    })),
  );
  const [checks, setChecks] = useState<CheckDraft[]>(() => draftsOf(persona?.checks));
  const [errors, setErrors] = useState<FormErrors | null>(null);
  const set = (key: keyof typeof values) => (event: { target: { value: string } }) =>
    setValues((previous) => ({ ...previous, [key]: event.target.value }));

  const save = useMutation({
    mutationFn: () => {
      const config: NonNullable<CreatePersonaRequest["config"]> = {};
      for (const key of ["maxMessages", "messageInterval", "replyTimeout", "sessionDuration"] as const) {
        const value = numberOrUndefined(values[key]);
        if (value !== undefined) config[key] = value;
      }
      // Only what differs from the API's defaults (kal, no barge-in): most personas never go on a call.
      const voice: PersonaVoiceConfig = {};
      if (values.voice !== DEFAULT_VOICE) voice.voice = values.voice as PersonaVoiceConfig["voice"];
      const interruptAfterMs = numberOrUndefined(values.interruptAfterMs);
      if (interruptAfterMs !== undefined) voice.interruptAfterMs = interruptAfterMs;
      if (Object.keys(voice).length > 0) config.voice = voice;
      const body = {
        name: values.name,
        description: values.description.trim() || null,
        prompt: values.prompt,
        goal: values.goal.trim() || null,
        script: values.script
          .split("\n")
          .map((line) => line.trim())
          .filter(Boolean),
        traits: pairsOf(traits),
        provider: values.provider as "scripted" | "openai",
        model: values.model.trim() || null,
        temperature: numberOrUndefined(values.temperature) ?? null,
        seed: numberOrUndefined(values.seed) ?? null,
        config,
        checks: checksOf(checks),
      } satisfies CreatePersonaRequest;
      return persona ? client.personas.update(persona.id, body) : client.personas.create(body);
    },
    onSuccess: (saved) => {
      void queryClient.invalidateQueries({ queryKey: ["personas"] });
      queryClient.setQueryData(["persona", saved.id], saved);
      navigate("/personas");
    },
    onError: (error) => setErrors(toFormErrors(error)),
  });

  const title = persona ? `Edit ${persona.name}` : "New persona";
  return (
    <Page title={title}>
      <Form label={title} errors={errors} onSubmit={() => save.mutate()}>
        <Field name="name" label="Name">
          {(props) => <input {...props} value={values.name} onChange={set("name")} />}
        </Field>
        <Field name="description" label="Description (optional)">
          {(props) => <input {...props} value={values.description} onChange={set("description")} />}
        </Field>
        <Field name="prompt" label="Prompt" hint="Who the customer is and how they behave.">
          {(props) => <textarea {...props} rows={4} value={values.prompt} onChange={set("prompt")} />}
        </Field>
        <Field
          name="goal"
          label="Goal (optional)"
          hint="What the customer wants; the conversation ends when it is reached, and the verdict checks it."
        >
          {(props) => <input {...props} value={values.goal} onChange={set("goal")} />}
        </Field>
        <Field
          name="script"
          label="Opening lines (optional)"
          hint="One per line, said first, in order."
          prefix
        >
          {(props) => <textarea {...props} rows={3} value={values.script} onChange={set("script")} />}
        </Field>
        <PairsEditor
          name="traits"
          legend="Traits"
          hint="E.g. communication_style: direct, patience_level: low, urgency: high."
          pairs={traits}
          onChange={setTraits}
          keyLabel="Trait"
        />
        <fieldset className="fieldset">
          <legend>Provider</legend>
          <div className="grid-4">
            <Field name="provider" label="Writes the messages">
              {(props) => (
                <select {...props} value={values.provider} onChange={set("provider")}>
                  <option value="scripted">Scripted (offline)</option>
                  <option value="openai">OpenAI-compatible LLM</option>
                </select>
              )}
            </Field>
            <Field name="model" label="Model (optional)">
              {(props) => <input {...props} value={values.model} onChange={set("model")} />}
            </Field>
            <Field name="temperature" label="Temperature (optional)">
              {(props) => (
                <input
                  {...props}
                  inputMode="decimal"
                  value={values.temperature}
                  onChange={set("temperature")}
                />
              )}
            </Field>
            <Field name="seed" label="Seed (optional)">
              {(props) => <input {...props} inputMode="numeric" value={values.seed} onChange={set("seed")} />}
            </Field>
          </div>
        </fieldset>
        <fieldset className="fieldset">
          <legend>Session defaults</legend>
          <div className="grid-4">
            <Field name="config.sessionDuration" label="Duration (s)">
              {(props) => (
                <input
                  {...props}
                  inputMode="numeric"
                  placeholder="300"
                  value={values.sessionDuration}
                  onChange={set("sessionDuration")}
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
                  onChange={set("maxMessages")}
                />
              )}
            </Field>
            <Field name="config.messageInterval" label="Interval (s)">
              {(props) => (
                <input
                  {...props}
                  inputMode="numeric"
                  placeholder="5"
                  value={values.messageInterval}
                  onChange={set("messageInterval")}
                />
              )}
            </Field>
            <Field name="config.replyTimeout" label="Reply timeout (s)">
              {(props) => (
                <input
                  {...props}
                  inputMode="numeric"
                  placeholder="30"
                  value={values.replyTimeout}
                  onChange={set("replyTimeout")}
                />
              )}
            </Field>
          </div>
        </fieldset>
        <fieldset className="fieldset">
          <legend>Voice calls</legend>
          <p className="field-hint">How the persona speaks when the agent is a voice bot.</p>
          <div className="grid-2">
            <Field name="config.voice.voice" label="Voice">
              {(props) => (
                <select {...props} value={values.voice} onChange={set("voice")}>
                  {VOICES.map((voice) => (
                    <option key={voice.value} value={voice.value}>
                      {voice.label}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field
              name="config.voice.interruptAfterMs"
              label="Interrupt the bot after (ms)"
              hint="The persona talks over each bot reply this far into it; empty: never."
            >
              {(props) => (
                <input
                  {...props}
                  inputMode="numeric"
                  value={values.interruptAfterMs}
                  onChange={set("interruptAfterMs")}
                />
              )}
            </Field>
          </div>
        </fieldset>
        <ChecksEditor name="checks" legend="Default checks" drafts={checks} onChange={setChecks} />
        <div className="form-actions">
          <button type="submit" className="button button-primary" disabled={save.isPending}>
            {save.isPending ? "Saving…" : persona ? "Save changes" : "Create persona"}
          </button>
          <Link to="/personas" className="button button-quiet">
            Cancel
          </Link>
        </div>
      </Form>
    </Page>
  );
}
