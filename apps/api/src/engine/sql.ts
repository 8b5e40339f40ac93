// SQL pieces of the engine's batched statements. Lists travel as one parameter each, so a statement's text is the
// same whatever their length, and it is prepared once per connection (an `in ($1, $2, …)` or `values (…), (…)` list
// would be a new statement for every length).
import { type AnyColumn, type SQL, sql } from "drizzle-orm";

/** Rows as a table the statement can join: `jsonb_to_recordset(…) as <alias>(<columns>)`. */
export const recordset = (rows: object[], columns: string, alias = "v") =>
  sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as ${sql.raw(alias)}(${sql.raw(columns)})`;

/** Ids as one `uuid[]` parameter. */
export const uuids = (ids: readonly string[]) => sql`${`{${ids.join(",")}}`}::uuid[]`;

/** `column` is one of `ids`. */
export const idIn = (column: SQL.Aliased | AnyColumn, ids: readonly string[]) =>
  sql`${column} = any(${uuids(ids)})`;
