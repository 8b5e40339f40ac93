// Forms whose errors come from the API: a ValidationError's `details` ([{field: "config.webhook_url", message}])
// land on the field of that name (aria-invalid, the message tied by aria-describedby), and an error summary at
// the top lists them all, with links to the fields, and takes focus so screen readers hear it.
import { MimicError } from "@mimic/sdk";
import {
  createContext,
  type ReactNode,
  useCallback,
  useContext,
  useEffect,
  useId,
  useMemo,
  useRef,
  useState,
} from "react";

export interface FormErrors {
  /** What went wrong, in one sentence. */
  message: string;
  /** Per field, by the API's field path (`config.duration`, `checks[0].pattern`). */
  fields: Map<string, string>;
}

/** The errors to show for what a mutation threw. */
export function toFormErrors(error: unknown): FormErrors {
  if (error instanceof MimicError) {
    const fields = new Map<string, string>();
    for (const { field, message } of error.details) {
      if (!fields.has(field)) fields.set(field, message);
    }
    return { message: error.message, fields };
  }
  return { message: error instanceof Error ? error.message : String(error), fields: new Map() };
}

interface Registry {
  errors: FormErrors | null;
  /** Registers the element id of a field, so the summary can link to it. */
  register(name: string, id: string): () => void;
  ids: Map<string, string>;
}

const FormContext = createContext<Registry>({ errors: null, register: () => () => {}, ids: new Map() });

/** The field's error: its own, or (with `prefix`) the first one under it (`config.headers` ⊃ `config.headers.Host`). */
function errorOf(errors: FormErrors | null, name: string, prefix: boolean): string | undefined {
  if (!errors) return undefined;
  const own = errors.fields.get(name);
  if (own || !prefix) return own;
  for (const [field, message] of errors.fields) {
    if (field.startsWith(`${name}.`) || field.startsWith(`${name}[`))
      return `${field.slice(name.length + 1)}: ${message}`;
  }
  return undefined;
}

export function Form({
  errors,
  onSubmit,
  children,
  label,
  className,
}: {
  errors: FormErrors | null;
  onSubmit: () => void;
  children: ReactNode;
  label: string;
  className?: string;
}) {
  const ids = useRef(new Map<string, string>()).current;
  const register = useCallback(
    (name: string, id: string) => {
      ids.set(name, id);
      return () => {
        if (ids.get(name) === id) ids.delete(name);
      };
    },
    [ids],
  );
  const registry = useMemo(() => ({ errors, register, ids }), [errors, register, ids]);
  return (
    <FormContext.Provider value={registry}>
      <form
        aria-label={label}
        className={className ?? "form"}
        // The API validates: its messages are the ones to show, on the fields they name.
        noValidate
        onSubmit={(event) => {
          event.preventDefault();
          onSubmit();
        }}
      >
        <ErrorSummary />
        {children}
      </form>
    </FormContext.Provider>
  );
}

/** The element id of the field, or of the nearest enclosing field on the form (`checks[0]` for `checks[0].ms`). */
function nearestId(ids: Map<string, string>, field: string): string | undefined {
  let name = field;
  for (;;) {
    const id = ids.get(name);
    if (id) return id;
    const parent = name.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
    if (parent === name) return undefined;
    name = parent;
  }
}

function ErrorSummary() {
  const { errors, ids } = useContext(FormContext);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (errors) ref.current?.focus();
  }, [errors]);
  if (!errors) return null;
  return (
    <div className="alert alert-error" role="alert" tabIndex={-1} ref={ref}>
      <p className="alert-title">{errors.message}</p>
      {errors.fields.size > 0 && (
        <ul>
          {[...errors.fields].map(([field, message]) => {
            const target = nearestId(ids, field);
            return (
              <li key={field}>
                {target ? <a href={`#${target}`}>{`${field}: ${message}`}</a> : `${field}: ${message}`}
              </li>
            );
          })}
        </ul>
      )}
    </div>
  );
}

export interface ControlProps {
  id: string;
  name: string;
  "aria-invalid": boolean | undefined;
  "aria-describedby": string | undefined;
}

/** A labelled control. `children` renders it with the props that tie it to its label, hint and error. */
export function Field({
  name,
  label,
  hint,
  prefix = false,
  children,
  className,
}: {
  /** The API's field path. */
  name: string;
  label: ReactNode;
  hint?: ReactNode;
  /** Also show errors of the fields under this one. */
  prefix?: boolean;
  children: (props: ControlProps) => ReactNode;
  className?: string;
}) {
  const id = useId();
  const error = useFieldError(name, id, prefix);
  const hintId = hint ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <div className={`field${error ? " field-invalid" : ""}${className ? ` ${className}` : ""}`}>
      <label htmlFor={id}>{label}</label>
      {hint && (
        <p className="field-hint" id={hintId}>
          {hint}
        </p>
      )}
      {children({ id, name, "aria-invalid": error ? true : undefined, "aria-describedby": describedBy })}
      {error && (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      )}
    </div>
  );
}

/**
 * The error the API reported for the field `name` (and, with `prefix`, for the fields under it), and the element
 * `id` that the error summary links to for it.
 */
export function useFieldError(name: string, id: string, prefix = true): string | undefined {
  const { errors, register } = useContext(FormContext);
  useEffect(() => register(name, id), [register, name, id]);
  return errorOf(errors, name, prefix);
}

/** Form state that is a plain object of strings and booleans, with an updater per field. */
export function useFormState<T extends Record<string, unknown>>(initial: T) {
  const [values, setValues] = useState(initial);
  const set = useCallback(<K extends keyof T>(key: K, value: T[K]) => {
    setValues((previous) => ({ ...previous, [key]: value }));
  }, []);
  return [values, set, setValues] as const;
}

/** A number from an input, or undefined when it is empty; text that is no number goes to the API as is. */
export function numberOrUndefined(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : (trimmed as unknown as number);
}
