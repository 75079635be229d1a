import path from "node:path";
import type { Env } from "../env.ts";

/** Where the database lives: an embedded PGlite directory, or a PostgreSQL server URL. */
export type DbTarget = { kind: "pglite"; dir: string } | { kind: "postgres"; url: string };

export function dbTarget(e: Pick<Env, "DATABASE_URL" | "dataDir">): DbTarget {
  return e.DATABASE_URL ? { kind: "postgres", url: e.DATABASE_URL } : { kind: "pglite", dir: path.join(e.dataDir, "pglite") };
}

/** Discrete pg connection fields (a connectionString would override `database` for shadow databases). */
export function pgConfig(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)),
  };
}

/** A description of the target that is safe to log (no password). */
export function describeTarget(t: DbTarget): string {
  if (t.kind === "pglite") return `embedded PGlite at ${t.dir}`;
  const c = pgConfig(t.url);
  return `PostgreSQL ${c.user}@${c.host}:${c.port}/${c.database}`;
}
