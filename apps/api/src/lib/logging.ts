// What may reach the log. Database errors carry the failed query's parameters (Drizzle puts them in its message,
// PGlite and postgres.js on the error), and those are passwords' hashes, API-key hashes and agents' secrets: the
// error serializer keeps an error's kind, message and SQLSTATE, never its values. Redaction is the second net
// for anything logged by hand.

/** Property names whose values are credentials wherever they appear (request bodies, agent config …). */
const SECRET_KEYS = [
  "password",
  "passwordHash",
  "password_hash",
  "token",
  "access_token",
  "accessToken",
  "secret",
  "app_secret",
  "verify_token",
  "api_key",
  "apiKey",
  "key",
  "keyHash",
  "key_hash",
  "authorization",
  "cookie",
];

export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'res.headers["set-cookie"]',
  // At the top of a log object and up to three levels down (`body.config.secret`, `err.params.password` …).
  ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `*.*.*.${key}`]),
];

/** Drizzle's query errors read "Failed query: <sql>\nparams: <values>": the SQL may stay, the values go. */
const QUERY_PARAMS = /\nparams: [\s\S]*$/;

/** Fields of a driver error that describe the failure without repeating the data (`detail` quotes the row). */
const SAFE_FIELDS = [
  "code",
  "severity",
  "routine",
  "constraint",
  "constraint_name",
  "table",
  "table_name",
  "column",
  "column_name",
  "statusCode",
];

function scrubStack(stack: string, message: string, scrubbed: string) {
  if (message === scrubbed) return stack;
  if (message && stack.includes(message)) return stack.replace(message, () => scrubbed);
  // The message is not where expected: keep the frames only.
  const frames = stack.indexOf("\n    at ");
  return frames >= 0 ? stack.slice(frames + 1) : undefined;
}

/** pino's `err` serializer: an error, its causes and an AggregateError's errors, without query parameters. */
export function serializeError(error: unknown, depth = 0): unknown {
  if (typeof error === "string") return error.replace(QUERY_PARAMS, "");
  if (!error || typeof error !== "object") return error;
  const e = error as Record<string, unknown>;
  const message = typeof e.message === "string" ? e.message : "";
  const scrubbed = message.replace(QUERY_PARAMS, "");
  const out: Record<string, unknown> = {
    type: (error as object).constructor?.name ?? e.name,
    message: scrubbed,
  };
  if (typeof e.stack === "string") {
    const stack = scrubStack(e.stack, message, scrubbed);
    if (stack) out.stack = stack;
  }
  for (const field of SAFE_FIELDS) {
    const value = e[field];
    if (typeof value === "string" || typeof value === "number") out[field] = value;
  }
  if (depth < 5) {
    if (e.cause !== undefined) out.cause = serializeError(e.cause, depth + 1);
    if (Array.isArray(e.errors))
      out.errors = e.errors.slice(0, 10).map((inner) => serializeError(inner, depth + 1));
  }
  return out;
}

/** serializeError typed as pino's `err` serializer (strings logged as `err` are scrubbed too). */
export const errSerializer = (error: Error) =>
  serializeError(error) as { type: string; message: string; stack: string; [key: string]: unknown };
