// Schemas shared by several modules. Each has an $id so it becomes a named component in the OpenAPI document.
import { type TSchema, Type } from "@sinclair/typebox";
import { ERROR_CODES } from "../errors.js";

export const ErrorDetailSchema = Type.Object(
  {
    field: Type.String({ description: "The offending field, dotted for nested fields (`config.duration`)" }),
    message: Type.String(),
  },
  { $id: "ErrorDetail" },
);

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.Union(
        ERROR_CODES.map((c) => Type.Literal(c)),
        { description: "Stable, machine-readable error code" },
      ),
      message: Type.String({ description: "Human-readable explanation" }),
      details: Type.Optional(Type.Array(Type.Ref(ErrorDetailSchema))),
      requestId: Type.Optional(Type.String({ description: "Echoes the X-Request-Id response header" })),
    }),
  },
  { $id: "Error", description: "The envelope of every error response" },
);

export const PaginationSchema = Type.Object(
  {
    page: Type.Integer({ minimum: 1 }),
    limit: Type.Integer({ minimum: 1 }),
    total: Type.Integer({ minimum: 0, description: "Items matching the filters, over all pages" }),
    pages: Type.Integer({ minimum: 0 }),
  },
  { $id: "Pagination" },
);

export const PageQuery = {
  page: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1, description: "Page number, from 1" }),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20, description: "Items per page (max 100)" }),
};

export const IdParams = Type.Object({ id: Type.String({ description: "Resource id (UUID)" }) });

/** An ISO 8601 timestamp on the wire; handlers may return Date objects, which the serializer formats. */
export const Timestamp = (description?: string) =>
  Type.Unsafe<Date | string>({
    type: "string",
    format: "date-time",
    ...(description ? { description } : {}),
  });

/** `{data: T[], pagination}` with a component name of its own (`PersonaList` …). */
export const listOf = <T extends TSchema & { $id?: string }>(item: T, $id: string) =>
  Type.Object({ data: Type.Array(Type.Ref(item)), pagination: Type.Ref(PaginationSchema) }, { $id });

/** A documented error response: the Error envelope under a status-specific description. */
export const errorResponse = (description: string) =>
  ({ description, $ref: "Error#" }) as unknown as typeof ErrorSchema;

export const sharedSchemas = [ErrorDetailSchema, ErrorSchema, PaginationSchema];

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
