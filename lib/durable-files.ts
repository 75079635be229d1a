// Durability for files that must survive a power cut together (a device's key and certificate, the master key
// file across a rotation): a rename or a new link is on disk only once its directory is flushed.
import { randomUUID } from "node:crypto";
import fs from "node:fs";

/** Flush a directory's entries (renames and links in it) to disk. */
export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Replace `file` whole, with `mode`: a reader (or a power cut) sees the old content or the new, never part of it.
 * A temporary file of this process is written and flushed, then renamed over the file; on failure it is removed.
 * (The rename is durable once the directory is flushed: syncDir.)
 */
export function replaceFile(file: string, data: string | Buffer, mode: number): void {
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  try {
    const fd = fs.openSync(tmp, "wx", mode);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    // the process umask may have narrowed or the file system widened the mode asked for
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
