// Maps every failure onto the one envelope of errors.ts. Nothing internal (stack, SQL, driver message) leaves.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { AppError, type ErrorDetail } from "../errors.js";

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Error codes that mean the database is away (for now), not that the request was wrong. */
const DB_UNAVAILABLE = new Set([
  // Node's sockets
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  // postgres.js
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECTION_CLOSED",
  "CONNECT_TIMEOUT",
  // PostgreSQL's SQLSTATEs
  "08000", // connection_exception
  "08001", // sqlclient_unable_to_establish_sqlconnection
  "08003", // connection_does_not_exist
  "08004", // sqlserver_rejected_establishment_of_sqlconnection
  "08006", // connection_failure
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
]);

/** `/config/duration` → `config.duration`; array items as `messages[3].content`. */
function fieldOf(instancePath: string, prefix?: string): string {
  const parts = instancePath.split("/").filter(Boolean);
  let out = "";
  for (const part of parts) out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  return prefix && !out ? prefix : out;
}

export function validationDetails(errors: AjvError[], context?: string): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const seen = new Set<string>();
  // A union of literals (an enum) fails once per branch: report the allowed values once, in one detail.
  const allowed = new Map<string, unknown[]>();
  for (const e of errors)
    if (e.keyword === "const")
      allowed.set(e.instancePath, [...(allowed.get(e.instancePath) ?? []), e.params.allowedValue]);
  for (const e of errors) {
    // `if`/`anyOf` wrappers repeat what their branches already said.
    if (e.keyword === "if" || e.keyword === "anyOf" || e.keyword === "oneOf") continue;
    let field = fieldOf(e.instancePath);
    let message = e.message ?? "is invalid";
    if (e.keyword === "required") {
      const missing = String(e.params.missingProperty);
      field = field ? `${field}.${missing}` : missing;
      message = `${missing} is required`;
    } else if (e.keyword === "additionalProperties") {
      const extra = String(e.params.additionalProperty);
      field = field ? `${field}.${extra}` : extra;
      message = `unknown field ${extra}`;
    } else if (e.keyword === "enum") {
      message = `must be one of: ${(e.params.allowedValues as unknown[]).join(", ")}`;
    } else if (e.keyword === "const") {
      const values = allowed.get(e.instancePath) ?? [e.params.allowedValue];
      message =
        values.length > 1 ? `must be one of: ${values.join(", ")}` : `must be ${JSON.stringify(values[0])}`;
    }
    if (!field) field = context === "body" ? "body" : (context ?? "request");
    const key = `${field}\u0000${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      details.push({ field, message });
    }
  }
  return details;
}

/**
 * Why the database is unavailable, if that is what `error` says: its code, or one of its causes' (Drizzle wraps
 * driver errors), or one of an AggregateError's (a connection tried on several addresses).
 */
function causeCode(error: unknown, depth = 0): string | undefined {
  let current: unknown = error;
  for (; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && DB_UNAVAILABLE.has(code)) return code;
    if ((current as { message?: unknown }).message === "PGlite is closed") return "PGLITE_CLOSED";
    const errors = (current as { errors?: unknown }).errors;
    if (Array.isArray(errors))
      for (const inner of errors) {
        const found = causeCode(inner, depth + 1);
        if (found) return found;
      }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether `error` means the database is away (answered 503 SERVICE_UNAVAILABLE; worth retrying later). */
export const isDatabaseUnavailable = (error: unknown) => causeCode(error) !== undefined;

function toAppError(error: FastifyError & { validation?: AjvError[]; validationContext?: string }): AppError {
  if (error instanceof AppError) return error;
  if (error.validation) {
    return new AppError(
      "VALIDATION_ERROR",
      "Invalid request data",
      validationDetails(error.validation, error.validationContext),
    );
  }
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new AppError("VALIDATION_ERROR", "Request body is not valid JSON", undefined, 400);
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AppError("VALIDATION_ERROR", "Request body is too large", undefined, 413);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new AppError(
        "VALIDATION_ERROR",
        "Unsupported Content-Type; send application/json",
        undefined,
        415,
      );
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new AppError("VALIDATION_ERROR", "Content-Length does not match the body", undefined, 400);
    // From the router, through the `frameworkErrors` option (app.ts). Their messages echo the whole path.
    case "FST_ERR_BAD_URL":
      return new AppError("VALIDATION_ERROR", "The URL path is not validly percent-encoded", undefined, 400);
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new AppError("VALIDATION_ERROR", "A path segment is too long", undefined, 414);
  }
  if (error.statusCode === 400 && error instanceof SyntaxError) {
    return new AppError("VALIDATION_ERROR", "Request body is not valid JSON", undefined, 400);
  }
  if (error.statusCode === 429) return new AppError("RATE_LIMIT_EXCEEDED", "Rate limit exceeded");
  if (causeCode(error))
    return new AppError("SERVICE_UNAVAILABLE", "The database is unavailable; try again shortly");
  if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
    // Fastify's own client errors (bad headers, unsupported methods …): keep the status, not the internals.
    return new AppError("VALIDATION_ERROR", error.message || "Bad request", undefined, error.statusCode);
  }
  return new AppError("INTERNAL_ERROR", "An unexpected error occurred");
}

export function sendError(request: FastifyRequest, reply: FastifyReply, appError: AppError) {
  const error: Record<string, unknown> = { code: appError.code, message: appError.message };
  if (appError.details?.length) error.details = appError.details;
  error.requestId = request.id;
  return reply.status(appError.statusCode).type("application/json; charset=utf-8").send({ error });
}

/** The one error handler: Fastify's, and the router's `frameworkErrors` (bad URL, too-long path segment). */
export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const appError = toAppError(error);
  if (appError.statusCode >= 500) request.log.error({ err: error }, "request failed");
  else request.log.info({ code: appError.code, status: appError.statusCode }, appError.message);
  return sendError(request, reply, appError);
}

export default fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler(handleError);
  },
  { name: "errors" },
);
