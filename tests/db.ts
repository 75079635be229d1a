// Integration tests use a real database: a private copy of the migrated PGlite template per test
// file, or the shared PostgreSQL of TEST_DATABASE_URL (tests then use unique names for their data).
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, inject } from "vitest";
import { closeDb, type Db, openDatabase } from "../lib/db/client.ts";

/**
 * The test file's database. `own`: on PostgreSQL too, a database of the file's own (created and migrated here,
 * dropped after), for tests that change what every process shares — the master key canary, the key stores.
 */
export function testDb(opts: { own?: boolean } = {}): Db {
  const t = inject("pssTestDb");
  let tmp = "";
  let drop = () => {};
  let client: Db;
  if (t.kind === "pglite") {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pss-test-db-"));
    fs.cpSync(t.dir, tmp, { recursive: true });
    client = openDatabase({ kind: "pglite", dir: tmp });
  } else if (opts.own) {
    const own = ownPostgres(t.url);
    drop = own.drop;
    client = openDatabase({ kind: "postgres", url: own.url });
  } else {
    client = openDatabase(t);
  }
  afterAll(async () => {
    await closeDb();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    drop();
  });
  return client;
}

/** A new, migrated PostgreSQL database beside the one at `url`, named after this process. */
export function ownPostgres(url: string): { url: string; drop(): void } {
  const name = `pss_own_${process.pid}`;
  const psql = (sql: string) => execFileSync("psql", [url, "-q", "-c", sql], { stdio: "ignore" });
  psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  psql(`CREATE DATABASE ${name}`);
  const own = new URL(url);
  own.pathname = `/${name}`;
  execFileSync(process.execPath, ["--import", "tsx", "scripts/migrate.ts", "deploy"], {
    env: { ...process.env, DATABASE_URL: own.toString(), NODE_ENV: "test" },
    stdio: "ignore",
  });
  return { url: own.toString(), drop: () => psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Which database this run uses, for test names. */
export function dbLabel(): string {
  return inject("pssTestDb").kind;
}

/** A unique suffix for names, so tests can share one PostgreSQL database. */
export function unique(prefix = "t"): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Wait, if needed, until the current minute (the window of rate limits and refusal audits) has at least `ms`
 * left, so that a test's burst of requests, and the bucket it seeds for this minute, stay inside one window.
 */
export async function freshWindow(ms = 15_000, windowMs = 60_000): Promise<void> {
  const left = () => windowMs - (Date.now() % windowMs);
  // a timer may fire a little early: wait until the clock says the next window has begun
  if (left() < ms) {
    const window = Math.floor(Date.now() / windowMs);
    while (Math.floor(Date.now() / windowMs) === window) await new Promise((r) => setTimeout(r, Math.min(left() + 5, 1000)));
  }
}
