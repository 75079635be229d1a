// The embedded database served over its socket must behave like a PostgreSQL server for several clients:
// extended-protocol batches of concurrent connections never interleave, and an open transaction stays private.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serveEmbedded } from "./embedded.ts";
import { pgConnection } from "./target.ts";

let served: Awaited<ReturnType<typeof serveEmbedded>>;
let dataDir = "";
const clients: pg.Client[] = [];

async function client() {
  if (served.target.kind === "pglite") throw new Error("unexpected target");
  const c = new pg.Client(pgConnection(served.target));
  await c.connect();
  clients.push(c);
  return c;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-embedded-"));
  served = await serveEmbedded(path.join(dataDir, "pglite"), path.join(dataDir, "run"));
  const c = await client();
  await c.query("CREATE TABLE t (id int PRIMARY KEY, v text)");
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
  await served.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe("embedded database over its socket", () => {
  it("keeps concurrent connections' parameterized queries apart (no 'portal does not exist')", async () => {
    const [a, b, c] = await Promise.all([client(), client(), client()]);
    const work = (cl: pg.Client, base: number) =>
      Promise.all(
        Array.from({ length: 60 }, (_, i) => cl.query("INSERT INTO t (id, v) VALUES ($1, $2) RETURNING id", [base + i, `v${i}`])),
      );
    const results = await Promise.all([work(a, 1000), work(b, 2000), work(c, 3000)]);
    expect(
      results
        .flat()
        .map((r) => r.rows[0].id)
        .sort((x, y) => x - y),
    ).toHaveLength(180);
    expect((await a.query("SELECT count(*)::int AS n FROM t")).rows[0].n).toBe(180);
  });

  it("keeps an open transaction private to its connection until commit", async () => {
    const [a, b] = await Promise.all([client(), client()]);
    await a.query("BEGIN");
    await a.query("INSERT INTO t (id, v) VALUES (1, 'uncommitted')");
    const seenByB = b.query("SELECT count(*)::int AS n FROM t WHERE id = 1");
    await a.query("COMMIT");
    // b's query waited for a's transaction to end: it sees the committed row, never a half state
    expect((await seenByB).rows[0].n).toBe(1);
  });

  it("a failed statement does not wedge the database for other connections", async () => {
    const [a, b] = await Promise.all([client(), client()]);
    await expect(a.query("INSERT INTO t (id, v) VALUES (1, 'duplicate')")).rejects.toThrow(/duplicate key/);
    expect((await b.query("SELECT 1 AS one")).rows[0].one).toBe(1);
  });
});

describe("embedded database maintenance (autovacuum's work, which PGlite has no process for)", () => {
  const opened: { served: Awaited<ReturnType<typeof serveEmbedded>>; dir: string; clients: pg.Client[] }[] = [];
  /** A database of its own, checking every `maintenanceMs`, and a client of it. */
  const database = async (maintenanceMs: number) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-embedded-maintained-"));
    const db = {
      served: await serveEmbedded(path.join(dir, "pglite"), path.join(dir, "run"), { maintenanceMs }),
      dir,
      clients: [] as pg.Client[],
    };
    opened.push(db);
    const connect = async () => {
      if (db.served.target.kind === "pglite") throw new Error("unexpected target");
      const c = new pg.Client(pgConnection(db.served.target));
      await c.connect();
      db.clients.push(c);
      return c;
    };
    return { served: db.served, connect };
  };
  const stats = async (c: pg.Client, table: string) =>
    (
      await c.query<{ analyzed: boolean; vacuumed: boolean; vacuums: number; dead: number }>(
        `SELECT last_analyze IS NOT NULL AS analyzed, last_vacuum IS NOT NULL AS vacuumed, vacuum_count::int AS vacuums,
                n_dead_tup::int AS dead
           FROM pg_stat_user_tables WHERE relname = $1`,
        [table],
      )
    ).rows[0];
  const until = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 50));
    return check();
  };

  afterAll(async () => {
    for (const db of opened) {
      for (const c of db.clients) await c.end().catch(() => {});
      await db.served.close();
      fs.rmSync(db.dir, { recursive: true, force: true });
    }
  });

  it("analyzes a table once a tenth of it changed, and vacuums away its dead rows", async () => {
    const c = await (await database(50)).connect();
    await c.query("CREATE TABLE grown (id int PRIMARY KEY, v text)");
    await c.query("INSERT INTO grown SELECT g, md5(g::text) FROM generate_series(1, 5000) g");
    expect(await until(async () => (await stats(c, "grown")).analyzed)).toBe(true);
    // the planner now knows the table's size
    expect((await c.query("SELECT reltuples::int AS n FROM pg_class WHERE relname = 'grown'")).rows[0].n).toBe(5000);
    // the inserts' own vacuum (autovacuum vacuums after many inserts too) comes first; then the deletes' one
    expect(await until(async () => (await stats(c, "grown")).vacuumed)).toBe(true);
    const vacuums = (await stats(c, "grown")).vacuums;
    await c.query("DELETE FROM grown WHERE id % 2 = 0");
    expect(await until(async () => (await stats(c, "grown")).dead > 0 || (await stats(c, "grown")).vacuums > vacuums)).toBe(true);
    expect(
      await until(async () => {
        const now = await stats(c, "grown");
        return now.vacuums > vacuums && now.dead === 0;
      }),
    ).toBe(true);
    expect((await c.query("SELECT count(*)::int AS n FROM grown")).rows[0].n).toBe(2500);
  });

  it("never runs inside a connection's open transaction: it waits for the transaction to end", async () => {
    const { served: db, connect } = await database(3_600_000);
    const c = await connect();
    await c.query("CREATE TABLE churn (id int PRIMARY KEY)");
    await c.query("INSERT INTO churn SELECT generate_series(1, 3000)");
    await c.query("DELETE FROM churn");
    expect(await until(async () => (await stats(c, "churn")).dead === 3000)).toBe(true);
    await c.query("BEGIN");
    await c.query("INSERT INTO churn VALUES (1)");
    let ran: string[] | null = null;
    const maintained = db.maintainNow().then(({ statements, failed }) => {
      expect(failed).toEqual([]);
      ran = statements;
    });
    // a VACUUM there would fail the transaction, an ANALYZE would be rolled back with it
    await new Promise((r) => setTimeout(r, 300));
    expect(ran).toBeNull();
    await c.query("INSERT INTO churn VALUES (2)");
    await c.query("COMMIT");
    await maintained;
    expect(ran).toContain("VACUUM (ANALYZE) public.churn");
    expect((await c.query("SELECT count(*)::int AS n FROM churn")).rows[0].n).toBe(2);
    expect(await stats(c, "churn")).toMatchObject({ vacuumed: true, analyzed: true });
  });
});
