// Every opener of the embedded database's directory goes through here (its thread, the migrator, a process that
// opens it directly), so that a commit is on disk before it is answered. PGlite on Node never flushes its files
// as it comes: it starts PostgreSQL with fsync off (`-F`, since a browser's storage has no fsync), and its Node
// file system (Emscripten's NODEFS) has no fsync operation, so even with fsync on nothing would reach the disk.
// A power loss or a kernel crash could then lose committed issuances, or leave the database — the CA keys it
// seals included — inconsistent. Here PostgreSQL runs with fsync on and syncs its write-ahead log with fsync()
// (the call NODEFS can be given; its fdatasync() goes nowhere), and NODEFS's files get an fsync that flushes
// them. Plain JavaScript: the database's thread loads it without a TypeScript loader.
import fs from "node:fs";
import { PGlite } from "@electric-sql/pglite";

/** PGlite's own start parameters, with fsync on (no `-F`) and the log synced by fsync(). */
export const DURABLE_START_PARAMS = [...PGlite.defaultStartParams.filter((p) => p !== "-F"), "-c", "wal_sync_method=fsync"];

/**
 * Open (or create) the database in `dir`, durable. The fsync operation is given to NODEFS once PGlite has started,
 * before any statement runs (callers' statements wait for `waitReady`, whose continuations run in order).
 * @param {string} dir
 * @returns {PGlite}
 */
export function openDurablePGlite(dir) {
  const db = new PGlite(dir, { startParams: DURABLE_START_PARAMS });
  db.waitReady.then(
    () => {
      // NODEFS's stream operations, shared by every file it opened (PostgreSQL holds its log and catalogs open)
      const ops = /** @type {any} */ (db).mod.FS.streams.find((/** @type {any} */ s) => s?.nfd !== undefined)?.stream_ops;
      if (!ops) throw new Error("the embedded database's files are not on Node's file system: cannot make it durable");
      ops.fsync ??= (/** @type {{ nfd?: number }} */ stream) => {
        if (stream.nfd !== undefined) fs.fsyncSync(stream.nfd);
        return 0;
      };
      // (a failed start is the caller's to see, through waitReady)
    },
    () => {},
  );
  return db;
}
