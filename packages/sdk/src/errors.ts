// What SDK methods throw: one class per HTTP status family, all carrying the API's error envelope
// ({error: {code, message, details?, requestId}}), plus ConnectionError and TimeoutError for network failures.
import type { components } from "./generated/schema.js";
import { serverDelayMs } from "./retry.js";

type ErrorEnvelope = components["schemas"]["Error"];
type ErrorDetail = components["schemas"]["ErrorDetail"];

/** The API's machine-readable error codes; a newer server may send one this SDK does not know yet. */
export type ErrorCode = ErrorEnvelope["error"]["code"] | (string & {});

export interface MimicErrorInit {
  status?: number | undefined;
  code?: ErrorCode | undefined;
  details?: ErrorDetail[] | undefined;
  requestId?: string | undefined;
  headers?: Headers | undefined;
  body?: unknown;
  cause?: unknown;
}

/** Base class of every error the SDK throws. `instanceof MimicError` catches them all. */
export class MimicError extends Error {
  override name = "MimicError";
  /** HTTP status, or undefined when no response arrived (ConnectionError, TimeoutError). */
  readonly status: number | undefined;
  /** The API's error code, e.g. `RESOURCE_NOT_FOUND`. */
  readonly code: ErrorCode | undefined;
  /** Field-level problems of a rejected request: `[{field: "config.duration", message: "…"}]`. */
  readonly details: ErrorDetail[];
  /** The request's id (X-Request-Id): quote it when you report a problem. */
  readonly requestId: string | undefined;
  /** Response headers (empty when no response arrived). */
  readonly headers: Headers;
  /** The parsed response body, for responses that are not the usual error envelope. */
  readonly body: unknown;

  constructor(message: string, init: MimicErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? [];
    this.requestId = init.requestId;
    this.headers = init.headers ?? new Headers();
    this.body = init.body;
  }
}

/** 400: the request could not be read (for example a body that is not JSON). */
export class BadRequestError extends MimicError {
  override name = "BadRequestError";
  declare readonly status: 400;
}

/** 401: missing, invalid, expired or revoked credentials. */
export class AuthenticationError extends MimicError {
  override name = "AuthenticationError";
  declare readonly status: 401;
}

/** 403: authenticated, but not allowed. Also exported as AuthorizationError, after the API's code. */
export class PermissionDeniedError extends MimicError {
  override name = "PermissionDeniedError";
  declare readonly status: 403;
}
export { PermissionDeniedError as AuthorizationError };

/** 404: no such resource, or it belongs to another user (the API never tells the two apart). */
export class NotFoundError extends MimicError {
  override name = "NotFoundError";
  declare readonly status: 404;
}

/** 409: the request conflicts with the current state (a duplicate email, for instance). */
export class ConflictError extends MimicError {
  override name = "ConflictError";
  declare readonly status: 409;
}

/** 422: the request was read but is invalid; `details` says which fields and why. */
export class ValidationError extends MimicError {
  override name = "ValidationError";
  declare readonly status: 422;
}

/** 429: too many requests. GET requests are retried for you when the wait is short (≤ 60 s). */
export class RateLimitError extends MimicError {
  override name = "RateLimitError";
  declare readonly status: 429;
  /** How long the server asks you to wait (Retry-After, else X-RateLimit-Reset), in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, init: MimicErrorInit = {}) {
    super(message, init);
    this.retryAfterMs = serverDelayMs(this.headers, 429);
  }
}

/** 5xx: the server failed. GET requests are retried for you first. */
export class InternalServerError extends MimicError {
  override name = "InternalServerError";
  declare readonly status: number;
}

/** 503: the service is temporarily unavailable (database down, not ready yet). */
export class ServiceUnavailableError extends InternalServerError {
  override name = "ServiceUnavailableError";
  declare readonly status: 503;
}

/** No response arrived: DNS failure, refused or reset connection, TLS error, CORS refusal in a browser. */
export class ConnectionError extends MimicError {
  override name = "ConnectionError";
  declare readonly status: undefined;
}

/** No complete response arrived within `timeoutMs`. */
export class TimeoutError extends ConnectionError {
  override name = "TimeoutError";
}

const BY_STATUS: Record<number, typeof MimicError> = {
  400: BadRequestError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  422: ValidationError,
  429: RateLimitError,
  503: ServiceUnavailableError,
};

function envelopeOf(body: unknown): ErrorEnvelope["error"] | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return undefined;
  return typeof (error as { message?: unknown }).message === "string"
    ? (error as ErrorEnvelope["error"])
    : undefined;
}

/** The error to throw for a response that is not 2xx; `body` is what was parsed of it, if anything. */
export function errorFromResponse(response: Response, body: unknown): MimicError {
  const envelope = envelopeOf(body);
  const status = response.status;
  const ErrorClass = BY_STATUS[status] ?? (status >= 500 ? InternalServerError : MimicError);
  const message =
    envelope?.message ??
    `Request failed with status ${status}${response.statusText ? ` ${response.statusText}` : ""}`;
  return new ErrorClass(message, {
    status,
    code: envelope?.code,
    details: Array.isArray(envelope?.details) ? envelope.details : undefined,
    requestId: envelope?.requestId ?? response.headers.get("x-request-id") ?? undefined,
    headers: response.headers,
    body,
  });
}
