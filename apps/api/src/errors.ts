// The one error envelope: {"error": {"code", "message", "details"?, "requestId"}}. Routes throw AppError;
// the handler in plugins/errors.ts maps everything else (validation, parsing, rate limits, crashes) onto it.

export const ERROR_STATUS = {
  VALIDATION_ERROR: 422,
  AUTHENTICATION_ERROR: 401,
  AUTHORIZATION_ERROR: 403,
  RESOURCE_NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMIT_EXCEEDED: 429,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

export interface ErrorDetail {
  field: string;
  message: string;
}

export class AppError extends Error {
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    statusCode?: number,
  ) {
    super(message);
    this.name = "AppError";
    this.statusCode = statusCode ?? ERROR_STATUS[code];
  }
}

export const notFound = (resource: string) => new AppError("RESOURCE_NOT_FOUND", `${resource} not found`);
export const unauthenticated = (message = "Authentication required") =>
  new AppError("AUTHENTICATION_ERROR", message);
export const validationError = (field: string, message: string) =>
  new AppError("VALIDATION_ERROR", "Invalid request data", [{ field, message }]);
