// Edits a list of checks (a session's, or a persona's defaults): one row per check, its type and the one value it
// takes. Errors from the API arrive as `checks[2].pattern` and show on that row.
import type { SessionCheck } from "@mimic/sdk";
import { Field, numberOrUndefined } from "./form";

export type CheckType = SessionCheck["type"];

/** A check as the form holds it: every value as text. */
export interface CheckDraft {
  key: number;
  type: CheckType;
  value: string;
}

const TYPES: {
  type: CheckType;
  label: string;
  value?: { name: "ms" | "pattern" | "rubric"; label: string };
  /** Only voice agents' sessions run it. */
  voice?: true;
}[] = [
  { type: "reply_within", label: "Every reply within", value: { name: "ms", label: "Milliseconds" } },
  { type: "all_answered", label: "Every persona message answered" },
  { type: "goal_reached", label: "The persona reached its goal" },
  {
    type: "must_match",
    label: "An agent reply matches",
    value: { name: "pattern", label: "Pattern (regex)" },
  },
  {
    type: "must_not_match",
    label: "No agent reply matches",
    value: { name: "pattern", label: "Pattern (regex)" },
  },
  { type: "llm_judge", label: "An LLM judges the transcript", value: { name: "rubric", label: "Rubric" } },
  {
    type: "first_audio_within",
    label: "The bot starts speaking within (ms)",
    value: { name: "ms", label: "Milliseconds" },
    voice: true,
  },
  {
    type: "no_long_silence",
    label: "No silence longer than (ms)",
    value: { name: "ms", label: "Milliseconds" },
    voice: true,
  },
  { type: "voice_valid", label: "Voice bot's Media Streams frames are valid", voice: true },
];

const option = (t: (typeof TYPES)[number]) => (
  <option key={t.type} value={t.type}>
    {t.label}
  </option>
);

let nextKey = 1;

export function draftsOf(checks: readonly SessionCheck[] | undefined): CheckDraft[] {
  return (checks ?? []).map((check) => ({
    key: nextKey++,
    type: check.type,
    value:
      "ms" in check
        ? String(check.ms)
        : "pattern" in check
          ? check.pattern
          : "rubric" in check
            ? check.rubric
            : "",
  }));
}

/** The checks to send. */
export function checksOf(drafts: readonly CheckDraft[]): SessionCheck[] {
  return drafts.map(({ type, value }) => {
    const spec = TYPES.find((t) => t.type === type)?.value;
    if (!spec) return { type } as SessionCheck;
    if (spec.name === "ms") return { type, ms: numberOrUndefined(value) } as SessionCheck;
    return { type, [spec.name]: value } as SessionCheck;
  });
}

export function ChecksEditor({
  name,
  legend,
  drafts,
  onChange,
}: {
  /** The API's field path of the list (`checks`). */
  name: string;
  legend: string;
  drafts: CheckDraft[];
  onChange: (drafts: CheckDraft[]) => void;
}) {
  const update = (key: number, change: Partial<CheckDraft>) =>
    onChange(drafts.map((draft) => (draft.key === key ? { ...draft, ...change } : draft)));
  return (
    <fieldset className="fieldset">
      <legend>{legend}</legend>
      {drafts.length === 0 && <p className="muted">No checks of its own.</p>}
      <ol className="checks-list">
        {drafts.map((draft, index) => {
          const spec = TYPES.find((t) => t.type === draft.type)?.value;
          return (
            <li key={draft.key} className="check-row">
              <Field name={`${name}[${index}]`} label={`Check ${index + 1}`}>
                {(props) => (
                  <select
                    {...props}
                    value={draft.type}
                    onChange={(event) => update(draft.key, { type: event.target.value as CheckType })}
                  >
                    {TYPES.filter((t) => !t.voice).map(option)}
                    <optgroup label="Voice calls">{TYPES.filter((t) => t.voice).map(option)}</optgroup>
                  </select>
                )}
              </Field>
              {spec && (
                <Field name={`${name}[${index}].${spec.name}`} label={spec.label}>
                  {(props) =>
                    spec.name === "rubric" ? (
                      <textarea
                        {...props}
                        rows={2}
                        value={draft.value}
                        onChange={(event) => update(draft.key, { value: event.target.value })}
                      />
                    ) : (
                      <input
                        {...props}
                        inputMode={spec.name === "ms" ? "numeric" : undefined}
                        value={draft.value}
                        onChange={(event) => update(draft.key, { value: event.target.value })}
                      />
                    )
                  }
                </Field>
              )}
              <button
                type="button"
                className="button button-quiet"
                onClick={() => onChange(drafts.filter((d) => d.key !== draft.key))}
                aria-label={`Remove check ${index + 1}`}
              >
                Remove
              </button>
            </li>
          );
        })}
      </ol>
      <button
        type="button"
        className="button"
        onClick={() => onChange([...drafts, { key: nextKey++, type: "reply_within", value: "2000" }])}
      >
        Add a check
      </button>
    </fieldset>
  );
}
