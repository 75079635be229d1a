// The one Prisma client of a process. Memoized on globalThis: the custom server and the Next.js
// bundle load this module separately, and the embedded PGlite must be opened only once per process.
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "../../generated/prisma/client.ts";
import { env } from "../env.ts";
import { openDurablePGlite } from "./pglite-durable.mjs";
import { type DbTarget, dbTarget, lockEmbedded, pgConnection, privateDir } from "./target.ts";

/** Secrets never leave the data layer unless a query asks for them by name. */
const omit = {
  user: { passwordHash: true },
  oAuthClient: { secretHash: true },
} as const;

/**
 * How long an operator's transaction (CA rotation, revocation or import, a policy save) may wait to start: they
 * queue behind each other for a connection, on the embedded database for its one session, and Prisma's 2 s
 * failed one that merely waited behind another. Device-facing transactions keep the 2 s, failing fast under load.
 */
export const ADMIN_TX_MAX_WAIT = 15_000;

function newClient(target: DbTarget) {
  if (target.kind === "pglite") {
    privateDir(target.dir);
    const release = lockEmbedded(target.dir);
    const pglite = openDurablePGlite(target.dir);
    const client = new PrismaClient({ adapter: new PrismaPGlite(pglite), omit });
    return {
      db: client,
      target,
      query: async <T>(sql: string, params: unknown[]) => (await pglite.query<T>(sql, params)).rows,
      close: async () => {
        await client.$disconnect();
        await pglite.close();
        release();
      },
    };
  }
  const pool = new pg.Pool({ ...pgConnection(target), max: 16 });
  const client = new PrismaClient({ adapter: new PrismaPg(pool), omit });
  // A PostgreSQL server keeps named statements per connection: each is parsed and planned once, not on every
  // call. Not over the embedded database's socket, where every connection shares one session (names would
  // collide).
  const named = target.kind === "postgres";
  return {
    db: client,
    target,
    query: async <T>(sql: string, params: unknown[]) =>
      (await pool.query(named ? { name: statementName(sql), text: sql, values: params } : { text: sql, values: params })).rows as T[],
    close: async () => {
      await client.$disconnect();
      await pool.end();
    },
  };
}

// One name per statement text, the same in every connection of the process.
const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `pss_hot_${statementNames.size}`;
    statementNames.set(sql, name);
  }
  return name;
}

export type Db = ReturnType<typeof newClient>["db"];

const g = globalThis as unknown as { __pssDb?: ReturnType<typeof newClient> };

/** The process-wide client for the configured database. */
const opened = () => (g.__pssDb ??= newClient(dbTarget(env())));

export function db(): Db {
  return opened().db;
}

/** Use a specific database for this process (tests). Must run before the first db(). */
export function openDatabase(target: DbTarget): Db {
  if (g.__pssDb) throw new Error("database already opened");
  g.__pssDb = newClient(target);
  return g.__pssDb.db;
}

/**
 * One statement straight to the driver (pg's pool, or the in-process PGlite), past Prisma's per-query and
 * per-parameter processing: for hot paths (the issuance batch, the authorizer's and EST's batched reads). Same
 * database, same connections as db(). On a PostgreSQL server each statement is a named prepared statement, so
 * `sql` must be one of a fixed set of texts (never built from values); those statements call PL/pgSQL
 * functions that keep generic plans, so PostgreSQL plans neither the call nor its body on every execution.
 */
export function driverQuery<T>(sql: string, params: unknown[]): Promise<T[]> {
  return opened().query<T>(sql, params);
}

/** A driverQuery `timestamp` read as epoch milliseconds (float8, see epoch columns in the hot functions), as a Date. */
export const dateOf = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

export async function closeDb(): Promise<void> {
  const cur = g.__pssDb;
  g.__pssDb = undefined;
  await cur?.close();
}

/** What an interactive transaction callback receives (and what db() is, minus connection control). */
export type Tx = Omit<Db, "$connect" | "$disconnect" | "$on" | "$transaction" | "$extends">;

/** Prisma's Bytes columns want a Uint8Array over a plain ArrayBuffer. */
export function bytes(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(b);
}
