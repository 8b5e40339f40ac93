// Edits a flat object of names and values (a persona's traits, an agent's extra headers) as rows.
import { useId } from "react";
import { useFieldError } from "./form";

export interface PairDraft {
  id: number;
  key: string;
  value: string;
}

let nextId = 1000;

export function pairsOf(pairs: readonly PairDraft[]): Record<string, string> {
  return Object.fromEntries(pairs.filter((p) => p.key.trim()).map((p) => [p.key.trim(), p.value]));
}

export function PairsEditor({
  name,
  legend,
  hint,
  pairs,
  onChange,
  keyLabel,
  secret = false,
}: {
  /** The API's field path of the object (`traits`, `config.headers`). */
  name: string;
  legend: string;
  hint?: string;
  pairs: PairDraft[];
  onChange: (pairs: PairDraft[]) => void;
  keyLabel: string;
  /** Values are write-only secrets (shown masked by the API). */
  secret?: boolean;
}) {
  const base = useId();
  const error = useFieldError(name, base);
  const update = (id: number, change: Partial<PairDraft>) =>
    onChange(pairs.map((pair) => (pair.id === id ? { ...pair, ...change } : pair)));
  return (
    <fieldset
      id={base}
      tabIndex={-1}
      className={`fieldset${error ? " field-invalid" : ""}`}
      aria-describedby={error ? `${base}-error` : undefined}
    >
      <legend>{legend}</legend>
      {hint && <p className="field-hint">{hint}</p>}
      {pairs.length > 0 && (
        <ul className="pairs">
          {pairs.map((pair, index) => (
            <li key={pair.id} className="pair-row">
              <div className="field">
                <label htmlFor={`${base}-k${pair.id}`}>
                  {keyLabel} {index + 1}
                </label>
                <input
                  id={`${base}-k${pair.id}`}
                  value={pair.key}
                  onChange={(event) => update(pair.id, { key: event.target.value })}
                />
              </div>
              <div className="field">
                <label htmlFor={`${base}-v${pair.id}`}>Value {index + 1}</label>
                <input
                  id={`${base}-v${pair.id}`}
                  type={secret ? "password" : "text"}
                  autoComplete="off"
                  value={pair.value}
                  onChange={(event) => update(pair.id, { value: event.target.value })}
                />
              </div>
              <button
                type="button"
                className="button button-quiet"
                onClick={() => onChange(pairs.filter((p) => p.id !== pair.id))}
                aria-label={`Remove ${keyLabel.toLowerCase()} ${index + 1}`}
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      {error && (
        <p className="field-error" id={`${base}-error`}>
          {error}
        </p>
      )}
      <button
        type="button"
        className="button"
        onClick={() => onChange([...pairs, { id: nextId++, key: "", value: "" }])}
      >
        Add {keyLabel.toLowerCase()}
      </button>
    </fieldset>
  );
}
