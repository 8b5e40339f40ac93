// @mimic/sdk: a typed client for the Mimic API.
export { MimicClient } from "./client.js";
export {
  AuthenticationError,
  AuthorizationError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  type ErrorCode,
  InternalServerError,
  MimicError,
  type MimicErrorInit,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
  ServiceUnavailableError,
  TimeoutError,
  ValidationError,
} from "./errors.js";
export * from "./generated/resources.js";
export type { components, operations, paths } from "./generated/schema.js";
export type * from "./generated/types.js";
export { type Page, type PageItem, PagePromise } from "./pagination.js";
export type {
  CallInit,
  CallResult,
  ClientOptions,
  FetchLike,
  RequestOptions,
  TokenSource,
  Transport,
} from "./transport.js";
