// createDb(): one Drizzle API over embedded PGlite (default) or a real PostgreSQL server (DATABASE_URL).
import { mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { type SQL, sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import * as schema from "./schema/index.js";

export type Schema = typeof schema;
/** The Drizzle database every service receives, whichever driver is behind it. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction or the database itself: services accept either. */
export type Executor = Pick<
  Database,
  "select" | "insert" | "update" | "delete" | "execute" | "transaction" | "$count"
>;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../drizzle", import.meta.url));

export interface CreateDbOptions {
  /** postgres:// URL of a real server. Without it, PGlite is used. */
  url?: string | undefined;
  /** PGlite data directory; `"memory"` (or omitted) keeps everything in memory. */
  dataDir?: string | undefined;
  /** An already-open PGlite instance (tests clone a migrated template). */
  pglite?: PGlite | undefined;
  /** A new PGlite database's contents, as a `dumpDataDir()` tarball (see openDb). */
  loadDataDir?: Blob | undefined;
  /** postgres.js pool size. */
  maxConnections?: number | undefined;
  /** Called when the server reports a notice; silent by default. */
  onNotice?: ((message: string) => void) | undefined;
}

/** How a listener hears that its LISTEN was lost and came back (PostgreSQL only: PGlite never drops it). */
export interface ListenHooks {
  /** The connection carrying the LISTEN dropped: notifications are missed until `onRestored`. */
  onDown?: (() => void) | undefined;
  /** The LISTEN is back. What was notified while it was down is lost: re-read what matters from the tables. */
  onRestored?: (() => void) | undefined;
}

export interface MimicDb {
  db: Database;
  driver: "pglite" | "postgres";
  /** Applies pending migrations (idempotent). */
  migrate(): Promise<void>;
  /** Runs a query and returns its rows, whichever driver is behind it. */
  rows<T extends Record<string, unknown>>(query: SQL): Promise<T[]>;
  /**
   * Subscribes to a LISTEN/NOTIFY channel; resolves, once listening, to an unsubscribe function. A dropped
   * connection is re-established and listened on again at once (with a short backoff while the server is away).
   */
  listen(
    channel: string,
    onPayload: (payload: string) => void,
    hooks?: ListenHooks,
  ): Promise<() => Promise<void>>;
  /** Releases every connection (or the embedded instance). */
  close(): Promise<void>;
}

export function createDb(options: CreateDbOptions = {}): MimicDb {
  return options.url ? createPostgresDb(options.url, options) : createPgliteDb(options);
}

function createPgliteDb(options: CreateDbOptions): MimicDb {
  let client = options.pglite;
  if (!client) {
    const dir = options.dataDir && options.dataDir !== "memory" ? options.dataDir : undefined;
    if (dir) mkdirSync(dir, { recursive: true });
    client = new PGlite({
      ...(dir ? { dataDir: dir } : {}),
      ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
    });
  }
  const pg = client;
  const db = drizzlePglite(pg, { schema, casing: "snake_case" }) as unknown as Database;
  return {
    db,
    driver: "pglite",
    migrate: () => migratePglite(db as never, { migrationsFolder: MIGRATIONS_FOLDER }),
    async rows<T>(query: SQL) {
      const result = (await db.execute(query)) as unknown as { rows: T[] };
      return result.rows;
    },
    async listen(channel, onPayload) {
      const unlisten = await pg.listen(channel, onPayload);
      return async () => {
        // A closed instance has no listeners left to remove.
        if (!pg.closed) await unlisten();
      };
    },
    async close() {
      if (!pg.closed) await pg.close();
    },
  };
}

/**
 * Seconds before reconnection attempt `attempt`: 50 ms doubling to 1 s, jittered. postgres.js defaults to up to
 * 20 s, which kept requests and the event listener waiting long after a restarted server was back.
 */
export function reconnectBackoff(attempt: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** attempt, 1);
}

/**
 * The client as Drizzle sees it, with every statement that has parameters prepared. Drizzle runs the statements it
 * has not been asked to prepare by name unprepared, and postgres.js then describes each one before binding it: two
 * round trips per statement. Prepared, a statement costs that once per connection (postgres.js keeps them by text,
 * and recycles its connections, caches with them, every 30 to 60 minutes) and one round trip after that. Transactions
 * and savepoints hand Drizzle clients of their own: those are wrapped too.
 */
function preparing<T extends postgres.Sql | postgres.TransactionSql>(client: T): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property === "unsafe")
        return (query: string, params?: unknown[], options?: { prepare?: boolean }) =>
          target.unsafe(query, params as never, {
            ...options,
            prepare: options?.prepare || (params?.length ?? 0) > 0,
          });
      if (property === "begin" || property === "savepoint")
        return (...args: unknown[]) => {
          const work = args.pop() as (inner: postgres.TransactionSql) => unknown;
          return (value as (...a: unknown[]) => unknown).call(
            target,
            ...args,
            (inner: postgres.TransactionSql) => work(preparing(inner)),
          );
        };
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function createPostgresDb(url: string, options: CreateDbOptions): MimicDb {
  const onnotice = (notice: postgres.Notice) => options.onNotice?.(String(notice.message));
  const client = postgres(url, {
    max: options.maxConnections ?? 10,
    onnotice,
    backoff: reconnectBackoff,
    connect_timeout: 10,
    // Dates and JSON are parsed by Drizzle's column mappers. Array types are not fetched at connect: there are no
    // array columns, and in postgres.js 3.4.9 that fetch failing (its connection dropped meanwhile) is an unhandled
    // rejection, which ends the process.
    fetch_types: false,
  });
  const db = drizzlePostgres(preparing(client), { schema, casing: "snake_case" }) as unknown as Database;
  let listener: PostgresListener | undefined;
  return {
    db,
    driver: "postgres",
    migrate: () => migratePostgres(db as never, { migrationsFolder: MIGRATIONS_FOLDER }),
    async rows<T>(query: SQL) {
      return (await db.execute(query)) as unknown as T[];
    },
    listen(channel, onPayload, hooks) {
      listener ??= new PostgresListener(url, onnotice);
      return listener.listen(channel, { onPayload, ...hooks });
    },
    async close() {
      await listener?.close();
      await client.end({ timeout: 5 });
    },
  };
}

interface Subscriber extends ListenHooks {
  onPayload(payload: string): void;
}

/**
 * Every LISTEN of a process on one dedicated connection, watched: postgres.js's own `listen()` re-listens after a
 * drop on its long backoff and never says when it lost or regained the connection, which live events need to
 * know (readiness, and re-reading what was missed).
 */
class PostgresListener {
  private readonly sql: postgres.Sql;
  private readonly channels = new Map<string, Set<Subscriber>>();
  /** Every channel is listened on, on the current connection. */
  private up = true;
  /** Closes seen so far: a LISTEN that succeeded while the count moved may have landed on a dead connection. */
  private closes = 0;
  private restoring = false;
  private closed = false;

  constructor(url: string, onnotice: (notice: postgres.Notice) => void) {
    this.sql = postgres(url, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      connect_timeout: 10,
      // The restore loop below paces the attempts.
      backoff: () => 0,
      onnotice,
      onclose: () => this.dropped(),
      // Undocumented in the types, but what postgres.js's own listen() is built on.
      onnotify: (channel: string, payload: string) => {
        for (const subscriber of this.channels.get(channel) ?? []) subscriber.onPayload(payload);
      },
    } as postgres.Options<Record<string, postgres.PostgresType>>);
  }

  async listen(channel: string, subscriber: Subscriber): Promise<() => Promise<void>> {
    let set = this.channels.get(channel);
    if (!set) {
      await this.sql.unsafe(`listen ${quoteIdent(channel)}`);
      set = this.channels.get(channel) ?? new Set();
      this.channels.set(channel, set);
    }
    set.add(subscriber);
    return async () => {
      set.delete(subscriber);
      if (set.size > 0 || this.channels.get(channel) !== set) return;
      this.channels.delete(channel);
      // Without a connection there is nothing to unlisten; a restored one listens only to what is left.
      if (this.up) await this.sql.unsafe(`unlisten ${quoteIdent(channel)}`).catch(() => {});
    };
  }

  async close() {
    this.closed = true;
    await this.sql.end({ timeout: 1 });
  }

  private subscribers() {
    return [...this.channels.values()].flatMap((set) => [...set]);
  }

  private dropped() {
    this.closes++;
    if (this.closed) return;
    if (this.up) {
      this.up = false;
      for (const subscriber of this.subscribers()) subscriber.onDown?.();
    }
    void this.restore();
  }

  /** Listens again on a new connection, retrying every 100 ms to 1 s until the server answers. */
  private async restore() {
    if (this.restoring) return;
    this.restoring = true;
    try {
      for (let attempt = 0; !this.closed; attempt++) {
        const closes = this.closes;
        const channels = [...this.channels.keys()];
        try {
          await this.sql.unsafe(
            channels.length ? channels.map((c) => `listen ${quoteIdent(c)}`).join("; ") : "select 1",
          );
          if (this.closes === closes) break;
        } catch {
          // The server is still away: try again shortly.
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(100 * 2 ** attempt, 1000)));
      }
    } finally {
      this.restoring = false;
    }
    if (this.closed) return;
    this.up = true;
    for (const subscriber of this.subscribers()) subscriber.onRestored?.();
  }
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Rows of a `db.execute()` result, whichever driver produced it (PGlite: `{rows}`, postgres.js: an array). */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : ((result as { rows?: T[] }).rows ?? [])) as T[];
}

interface Journal {
  entries: { tag: string; when: number }[];
}

/** How many migrations ship with this build, and how many the database has applied. */
export async function migrationStatus(mimicDb: MimicDb): Promise<{ expected: number; applied: number }> {
  const journal = JSON.parse(readFileSync(`${MIGRATIONS_FOLDER}/meta/_journal.json`, "utf8")) as Journal;
  const exists = await mimicDb.rows<{ present: boolean }>(
    sql`select to_regclass('drizzle.__drizzle_migrations') is not null as present`,
  );
  if (!exists[0]?.present) return { expected: journal.entries.length, applied: 0 };
  const applied = await mimicDb.rows<{ n: number }>(
    sql`select count(*)::int as n from drizzle.__drizzle_migrations`,
  );
  return { expected: journal.entries.length, applied: Number(applied[0]?.n ?? 0) };
}
