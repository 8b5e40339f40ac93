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
export type {
  SessionDataEvent,
  SessionEvent,
  SessionEventsOptions,
  SubscribeOptions,
} from "./live.js";
export { type Page, type PageItem, PagePromise } from "./pagination.js";
// After the generated resources: this SessionsResource, with live events, is the one MimicClient has.
export { SessionsResource } from "./sessions.js";
export type {
  CallInit,
  CallResult,
  ClientOptions,
  FetchLike,
  RequestOptions,
  TokenSource,
  Transport,
  WebSocketConstructor,
  WebSocketLike,
} from "./transport.js";
