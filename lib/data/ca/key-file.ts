// The embedded database's master key file across a rotation. The database and the files cannot change in one
// step (and PGlite's commits are not synced to disk), so a rotation keeps every key that may still be the one:
//   before the transaction  master.key (old), master.key.next (new)        — written, synced
//   after it                master.key.prev (old), master.key (new)        — renamed, directory synced
// At every start, the key is whichever of the three files the database's canary names; the others are removed
// only once the canary has named one of them. A power cut at any point leaves the right key on disk.
import fs from "node:fs";
import path from "node:path";
import { writeNewSecretFile } from "../../db/target.ts";
import { syncDir } from "../../durable-files.ts";
import { AppError } from "../../errors.ts";
import { log } from "../../log.ts";
import { checkCanary, parseMasterKey } from "../../pki/keystore.ts";

export type KeyFiles = { current: string; next: string; prev: string };

export const keyFiles = (dataDir: string): KeyFiles => ({
  current: path.join(dataDir, "master.key"),
  next: path.join(dataDir, "master.key.next"),
  prev: path.join(dataDir, "master.key.prev"),
});

function readKey(file: string): Buffer | null {
  try {
    return parseMasterKey(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

/** Writes `key` as `file` (0600), synced, replacing nothing: a file already there is an error, not overwritten. */
export function writeKeyFile(file: string, key: Buffer): void {
  fs.rmSync(file, { force: true });
  writeNewSecretFile(file, `${key.toString("hex")}\n`);
  const written = readKey(file);
  if (!written?.equals(key)) throw new AppError("master_key_file_conflict", `${file} was written by another process meanwhile`, 409);
  syncDir(path.dirname(file));
}

/** After the rotation's transaction: the old key becomes master.key.prev, the new one master.key. */
export function promoteNextKey(files: KeyFiles): void {
  fs.rmSync(files.prev, { force: true });
  fs.renameSync(files.current, files.prev);
  fs.renameSync(files.next, files.current);
  syncDir(path.dirname(files.current));
}

/**
 * The key the database's canary names among master.key, .next and .prev, made master.key, the others removed.
 * Fails closed (master_key_mismatch), removing nothing, when none is named. Without a canary yet, master.key.
 */
export function settleKeyFile(files: KeyFiles, canary: string | null): Buffer {
  const candidates = (["current", "next", "prev"] as const).flatMap((which) => {
    const key = readKey(files[which]);
    return key ? [{ which, key }] : [];
  });
  if (canary === null) {
    const current = candidates.find((c) => c.which === "current");
    if (!current) throw new AppError("master_key_missing", `${files.current} cannot be read`, 500);
    return current.key;
  }
  const named = candidates.find((c) => {
    try {
      checkCanary(c.key, canary);
      return true;
    } catch {
      return false;
    }
  });
  if (!named)
    throw new AppError("master_key_mismatch", "none of master.key, master.key.next and master.key.prev matches the database", 500);
  if (named.which !== "current") {
    // another process (the product and a CLI starting together) may be doing the same: whoever renames first wins
    try {
      fs.renameSync(files[named.which], files.current);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    log.warn({ restored: path.basename(files[named.which]) }, "finished an interrupted master key rotation");
  }
  // the canary named the key: the others (a rotation not committed, or the key before a committed one) open nothing
  for (const other of [files.next, files.prev]) fs.rmSync(other, { force: true });
  removeStaleTemporaries(files);
  syncDir(path.dirname(files.current));
  return named.key;
}

/** A process's PID is still running (or is another user's): its temporary file may be in use. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Copies of a key that a process stopped while writing (writeNewSecretFile's `<file>.<pid>.<uuid>.tmp`, between
 * its write and its link): a key in a file nobody reads. Only those of processes that no longer run are removed.
 */
function removeStaleTemporaries(files: KeyFiles): void {
  const dir = path.dirname(files.current);
  const stem = path.basename(files.current);
  for (const name of fs.readdirSync(dir)) {
    const m = /^(.+)\.(\d+)\.[0-9a-f-]{36}\.tmp$/.exec(name);
    if (!m || !(m[1] === stem || m[1].startsWith(`${stem}.`)) || running(Number(m[2]))) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    log.warn({ removed: name }, "removed a master key copy left by an interrupted write");
  }
}
