// The one Prisma client of a process. Memoized on globalThis: the custom server and the Next.js
// bundle load this module separately, and the embedded PGlite must be opened only once per process.
import { createHash } from "node:crypto";
import fs from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "../../generated/prisma/client.ts";
import { env } from "../env.ts";
import { type DbTarget, dbTarget, lockEmbedded, pgConfig, pgConnection } from "./target.ts";

/** Secrets never leave the data layer unless a query asks for them by name. */
const omit = {
  user: { passwordHash: true },
  oAuthClient: { secretHash: true },
} as const;

function newClient(target: DbTarget) {
  if (target.kind === "pglite") {
    fs.mkdirSync(target.dir, { recursive: true });
    const release = lockEmbedded(target.dir);
    const pglite = new PGlite(target.dir);
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
  const connection = pgConnection(target);
  const pool = new pg.Pool({ ...connection, max: 16 });
  const client = new PrismaClient({ adapter: new PrismaPg(pool), omit });
  // driverQuery's hot statements, on PostgreSQL: named, so each connection parses them once, and planned once
  // (a generic plan: with custom plans PostgreSQL planned the authorizer's read on every execution, 0.7 ms of
  // its CPU a request). A pool of their own, so Prisma's queries keep their custom plans. The embedded PGlite
  // serves every connection from one session, where two connections cannot prepare one name: unnamed there.
  const generic = target.kind === "postgres";
  const driver = generic
    ? new pg.Pool({ ...connection, options: `${pgConfig(target.url).options} -c plan_cache_mode=force_generic_plan`, max: 8 })
    : pool;
  return {
    db: client,
    target,
    query: async <T>(sql: string, params: unknown[]) =>
      (await driver.query(generic ? { name: statementName(sql), text: sql, values: params } : { text: sql, values: params })).rows as T[],
    close: async () => {
      await client.$disconnect();
      await pool.end();
      if (driver !== pool) await driver.end();
    },
  };
}

/** A prepared statement's name, from its text: the same SQL is the same statement on every connection. */
const statementNames = new Map<string, string>();
function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) {
    name = `pss_${createHash("sha256").update(sql).digest("hex").slice(0, 24)}`;
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
 * database as db(); on PostgreSQL a named statement with a generic plan, on connections of its own.
 */
export function driverQuery<T>(sql: string, params: unknown[]): Promise<T[]> {
  return opened().query<T>(sql, params);
}

/**
 * A driverQuery column for a `timestamp` (UTC by convention): milliseconds since the epoch as float8, read the
 * same by pg and PGlite whatever the process's or the session's time zone (both parse `timestamp` text in
 * the process's local zone). Turn it back into a Date with dateOf.
 */
export const epochMs = (column: string) => `(extract(epoch from ${column}) * 1000)::float8`;

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
