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
