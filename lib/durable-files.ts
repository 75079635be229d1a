// Durability for files that must survive a power cut together (a device's key and certificate, the master key
// file across a rotation): a rename or a new link is on disk only once its directory is flushed.
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
