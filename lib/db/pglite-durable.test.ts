// The embedded database flushes a commit to disk before answering it (lib/db/pglite-durable.mjs): PostgreSQL runs
// with fsync on, and its fsync() calls reach the kernel as fsync(2) on the files PGlite has open.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it, vi } from "vitest";
import { serveEmbedded } from "./embedded.ts";
import { openDurablePGlite } from "./pglite-durable.mjs";
import { pgConnection } from "./target.ts";

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pss-durable-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe("the embedded database is durable", () => {
  it("flushes the write-ahead log to disk on every commit, and the data files at a checkpoint", async () => {
    const db = openDurablePGlite(path.join(scratch, "direct"));
    await db.waitReady;
    try {
      expect((await db.query<{ fsync: string }>("SHOW fsync")).rows[0].fsync).toBe("on");
      await db.exec("CREATE TABLE t (id int PRIMARY KEY)");
      const flush = fs.fsyncSync;
      // each flushed descriptor, and whether it was a file or a directory (new files' entries), seen as it is flushed
      const flushed: boolean[] = [];
      const fsync = vi.spyOn(fs, "fsyncSync").mockImplementation((fd) => {
        const stat = fs.fstatSync(fd);
        flushed.push(stat.isFile() || stat.isDirectory());
        flush(fd);
      });
      try {
        for (let i = 1; i <= 5; i++) await db.query("INSERT INTO t VALUES ($1)", [i]);
        // one flush of the log per commit, at least
        expect(flushed.length).toBeGreaterThanOrEqual(5);
        const before = flushed.length;
        await db.exec("CHECKPOINT");
        expect(flushed.length).toBeGreaterThan(before);
        expect(flushed.every(Boolean)).toBe(true);
      } finally {
        fsync.mockRestore();
      }
    } finally {
      await db.close();
    }
  });

  it("is served that way to every process (the database's own thread opens it durable)", async () => {
    const served = await serveEmbedded(path.join(scratch, "served"), path.join(scratch, "run"));
    try {
      if (served.target.kind === "pglite") throw new Error("unexpected target");
      const c = new pg.Client(pgConnection(served.target));
      await c.connect();
      expect((await c.query("SELECT current_setting('fsync') AS f, current_setting('wal_sync_method') AS m")).rows[0]).toEqual({
        f: "on",
        m: "fsync",
      });
      await c.end();
    } finally {
      await served.close();
    }
  });
});
