// Every opener of the embedded database's directory goes through here (its thread, the migrator, a process that
// opens it directly), so that a commit is on disk before it is answered. PGlite on Node never flushes its files
// as it comes: it starts PostgreSQL with fsync off (`-F`, since a browser's storage has no fsync), and its Node
// file system (Emscripten's NODEFS) has no fsync operation, so even with fsync on nothing would reach the disk.
// A power loss or a kernel crash could then lose committed issuances, or leave the database — the CA keys it
// seals included — inconsistent. Here PostgreSQL runs with fsync on and syncs its write-ahead log with fsync()
// (the call NODEFS can be given; its fdatasync() goes nowhere), and NODEFS gets an fsync that flushes the file,
// installed before PostgreSQL starts (so crash recovery's own checkpoint is flushed too). Plain JavaScript: the
// database's thread loads it without a TypeScript loader.
import fs from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { NodeFS } from "@electric-sql/pglite/nodefs";

/** PGlite's own start parameters, with fsync on (no `-F`) and the log synced by fsync(). */
export const DURABLE_START_PARAMS = [...PGlite.defaultStartParams.filter((p) => p !== "-F"), "-c", "wal_sync_method=fsync"];

const EIO = 29;

/** NODEFS with an fsync operation: fsync(2) on the file's descriptor; a failure is EIO to PostgreSQL, which stops. */
class DurableNodeFS extends NodeFS {
  /** @param {any} pg @param {any} opts */
  async init(pg, opts) {
    const { emscriptenOpts } = await super.init(pg, opts);
    /** @param {any} mod */
    const giveFsync = (mod) => {
      mod.FS.filesystems.NODEFS.stream_ops.fsync = (/** @type {{ nfd?: number }} */ stream) => {
        if (stream.nfd === undefined) return 0;
        try {
          fs.fsyncSync(stream.nfd);
        } catch {
          // an Emscripten errno makes fsync() return -1, so PostgreSQL PANICs as it should on a failed flush
          throw new mod.FS.ErrnoError(EIO);
        }
        return 0;
      };
    };
    return { emscriptenOpts: { ...emscriptenOpts, preRun: [...(emscriptenOpts.preRun ?? []), giveFsync] } };
  }
}

/** fsync every file and directory under `dir` (a new cluster's files, written before PostgreSQL ran). */
function flushTree(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) flushTree(p);
    else if (entry.isFile()) flushPath(p);
  }
  flushPath(dir);
}

/** @param {string} p */
function flushPath(p) {
  const fd = fs.openSync(p, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Open (or create) the database in `dir`, durable.
 * @param {string} dir
 * @returns {PGlite}
 */
export function openDurablePGlite(dir) {
  const created = !fs.existsSync(path.join(dir, "PG_VERSION"));
  const db = new PGlite({ fs: new DurableNodeFS(dir), startParams: DURABLE_START_PARAMS });
  // (a failed start is the caller's to see, through waitReady; a failed flush of a new cluster stops the process)
  if (created)
    db.waitReady.then(
      () => flushTree(path.resolve(dir)),
      () => {},
    );
  return db;
}
