// Integration tests use a real database: a private copy of the migrated PGlite template per test
// file, or the shared PostgreSQL of TEST_DATABASE_URL (tests then use unique names for their data).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, inject } from "vitest";
import { closeDb, type Db, openDatabase } from "../lib/db/client.ts";

export function testDb(): Db {
  const t = inject("pssTestDb");
  let tmp = "";
  let client: Db;
  if (t.kind === "pglite") {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "pss-test-db-"));
    fs.cpSync(t.dir, tmp, { recursive: true });
    client = openDatabase({ kind: "pglite", dir: tmp });
  } else {
    client = openDatabase(t);
  }
  afterAll(async () => {
    await closeDb();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });
  return client;
}

/** Which database this run uses, for test names. */
export function dbLabel(): string {
  return inject("pssTestDb").kind;
}

/** A unique suffix for names, so tests can share one PostgreSQL database. */
export function unique(prefix = "t"): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
