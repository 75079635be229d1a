// The one Prisma client of a process. Memoized on globalThis: the custom server and the Next.js
// bundle load this module separately, and the embedded PGlite must be opened only once per process.
import fs from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "../../generated/prisma/client.ts";
import { env } from "../env.ts";
import { type DbTarget, dbTarget, pgConfig } from "./target.ts";

/** Secrets never leave the data layer unless a query asks for them by name. */
const omit = {
  user: { passwordHash: true },
  oAuthClient: { secretHash: true },
} as const;

export type Db = ReturnType<typeof newClient>;

function newClient(target: DbTarget) {
  if (target.kind === "pglite") {
    fs.mkdirSync(target.dir, { recursive: true });
    return new PrismaClient({ adapter: new PrismaPGlite(new PGlite(target.dir)), omit });
  }
  return new PrismaClient({ adapter: new PrismaPg({ ...pgConfig(target.url), max: 16 }), omit });
}

const g = globalThis as unknown as { __pssDb?: { db: Db; target: DbTarget } };

/** The process-wide client for the configured database. */
export function db(): Db {
  if (!g.__pssDb) {
    const target = dbTarget(env());
    g.__pssDb = { db: newClient(target), target };
  }
  return g.__pssDb.db;
}

/** Use a specific database for this process (tests, CLI --database). Must run before the first db(). */
export function useDatabase(target: DbTarget): Db {
  if (g.__pssDb) throw new Error("database already opened");
  g.__pssDb = { db: newClient(target), target };
  return g.__pssDb.db;
}

export async function closeDb(): Promise<void> {
  const cur = g.__pssDb;
  g.__pssDb = undefined;
  await cur?.db.$disconnect();
}
