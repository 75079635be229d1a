// The device API's hot functions (issue_batch, enrollment_facts, device_auth_rows) keep one generic plan per database
// session, made from the table statistics of that moment (migration 20261123122557_hot_plans_by_key). A plan made
// while the tables were nearly empty must still find rows by key once they hold thousands: the work of one call,
// counted in its own transaction (pg_stat_xact_user_tables), must not grow with the tables. (On the embedded PGlite,
// never analyzed, the plans made before pinning scanned every Certificate and Device row on each call.)
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { ownPostgres, testDb } from "../../tests/db.ts";
import { customerWithBootstrap } from "../data/enrollment/testing.ts";
import { closeDb, driverQuery, openDatabase } from "./client.ts";

// On PostgreSQL a database of this file's own, new and never analyzed (the shared one's statistics are shaped by
// the other test files), reached by this session directly: plans are made per session.
const t = inject("pssTestDb");
const own = t.kind === "postgres" ? ownPostgres(t.url) : null;
if (own) openDatabase({ kind: "postgres", url: own.url });
else testDb();

/** One database session: plans are cached per session. */
type Session = { query<T>(sql: string, params?: unknown[]): Promise<T[]>; end(): Promise<void> };

async function session(): Promise<Session> {
  // the test process's in-process PGlite is one session already
  if (!own) return { query: (sql, params = []) => driverQuery(sql, params), end: async () => {} };
  const c = new pg.Client({ connectionString: own.url });
  await c.connect();
  return { query: async (sql, params = []) => (await c.query(sql, params)).rows, end: () => c.end() };
}

const ROWS = 4000;
let s: Session;
let fixture: Awaited<ReturnType<typeof customerWithBootstrap>>;

/** Each hot function once, as the device API calls it; refused or empty, nothing is written. */
async function callHotFunctions() {
  const { c, boot } = fixture;
  const customer = c.customer.id;
  await s.query("SELECT * FROM device_auth_rows($1::text[])", [[boot.serialHex]]);
  await s.query("SELECT * FROM enrollment_facts($1::uuid[], $2::uuid[], $3::text[], $4::text[])", [
    [customer],
    [boot.id],
    ["hot-plan-device"],
    ["0".repeat(64)],
  ]);
  // a row for an issuer that is not active: every look-up of the batch runs, then the row is refused
  const [{ outcomes }] = await s.query<{ outcomes: string[] }>(
    `SELECT issue_batch($1::timestamp, $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::uuid[], $8::text[],
       $9::text[], $10::text[], $11::text[], $12::timestamp[], $13::timestamp[], $14::text[], $15::text[], $16::boolean[],
       $17::uuid[], $18::boolean[], $19::text[], $20::text[], $21::uuid[], $22::jsonb[], $23::uuid[]) AS outcomes`,
    [
      new Date().toISOString(),
      [randomUUID()],
      ["00"],
      ["CLIENT_TLS"],
      ["client-tls"],
      [randomUUID()],
      [customer],
      [c.user.uid],
      ["CN=hot-plan-device"],
      ["1".repeat(64)],
      ["00"],
      [new Date().toISOString()],
      [new Date().toISOString()],
      [boot.id],
      ["hot-plan-device"],
      [true],
      [boot.id],
      [true],
      ["device"],
      ["hot-plan-device"],
      [customer],
      [null],
      [boot.id],
    ],
  );
  expect(outcomes).toEqual(["issuer_changed"]);
}

beforeAll(async () => {
  fixture = await customerWithBootstrap("HotPlans");
  s = await session();
  // the plans are made now, while this customer has one certificate and no device
  await callHotFunctions();
  // then the tables grow by thousands of rows (copies of the bootstrapping certificate, devices without one)
  await s.query(
    `INSERT INTO "Certificate" (id, serial, kind, profile, "issuerId", "customerId", uid, subject, "spkiSha256", der,
       "notBefore", "notAfter", "createdAt")
     SELECT gen_random_uuid(), c.serial || '-' || g, c.kind, c.profile, c."issuerId", c."customerId", c.uid, c.subject,
       md5(c.serial || g) || md5(g::text), c.der, c."notBefore", c."notAfter", c."createdAt"
     FROM "Certificate" c, generate_series(1, ${ROWS}) g WHERE c.id = $1::uuid`,
    [fixture.boot.id],
  );
  await s.query(
    `INSERT INTO "Device" (id, "customerId", "deviceId", "enrolledById", uid)
     SELECT gen_random_uuid(), $1::uuid, 'hot-plan-' || g, $2::uuid, $3 FROM generate_series(1, ${ROWS}) g`,
    [fixture.c.customer.id, fixture.boot.id, fixture.c.user.uid],
  );
});

// (both databases are this file's own: they go, rows and all)
afterAll(async () => {
  await s?.end();
  if (own) {
    await closeDb();
    own.drop();
  }
});

describe("the device API's hot functions find rows by key, whatever the statistics were when their plans were made", () => {
  it(`reads a handful of Certificate and Device rows per call, not the ${ROWS} added since`, async () => {
    // pg_stat_xact_user_tables also holds what earlier transactions of the session did and is not flushed yet: a difference
    const counters = async () =>
      Object.fromEntries(
        (
          await s.query<{ relname: string; seq_scan: number; seq_tup_read: number; idx_tup_fetch: number }>(
            `SELECT relname, seq_scan::int, seq_tup_read::int, idx_tup_fetch::int FROM pg_stat_xact_user_tables
              WHERE relname IN ('Certificate', 'Device')`,
          )
        ).map((r) => [r.relname, r]),
      );
    await s.query("BEGIN");
    try {
      const before = await counters();
      await callHotFunctions();
      const after = await counters();
      for (const table of ["Certificate", "Device"]) {
        const was = before[table] ?? { seq_scan: 0, seq_tup_read: 0, idx_tup_fetch: 0 };
        expect(after[table].seq_scan - was.seq_scan, table).toBe(0);
        expect(after[table].seq_tup_read - was.seq_tup_read, table).toBe(0);
        expect(after[table].idx_tup_fetch - was.idx_tup_fetch, table).toBeLessThan(20);
      }
    } finally {
      await s.query("ROLLBACK");
    }
  });
});
