import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Env } from "../env.ts";
import { AppError } from "../errors.ts";

/**
 * Where the database lives: an embedded PGlite directory opened in this process, the same embedded
 * database served by the running product over a Unix socket (Postgres wire protocol), or a PostgreSQL server.
 */
export type DbTarget =
  | { kind: "pglite"; dir: string }
  | { kind: "pglite-socket"; dir: string; socketDir: string }
  | { kind: "postgres"; url: string };

/** The embedded database's data directory. */
export function embeddedDir(dataDir: string): string {
  return path.join(dataDir, "pglite");
}

/** The directory holding the embedded database's Unix socket (`.s.PGSQL.5432`, the name libpq and pg expect). */
export function embeddedSocketDir(dataDir: string): string {
  return path.join(dataDir, "run");
}

export function dbTarget(e: Pick<Env, "DATABASE_URL" | "dataDir">): DbTarget {
  if (e.DATABASE_URL) return { kind: "postgres", url: e.DATABASE_URL };
  const dir = embeddedDir(e.dataDir);
  // While the product runs it owns the embedded database and serves it on a socket: join it there.
  const socketDir = embeddedSocketDir(e.dataDir);
  if (lockHolder(dir) !== null && fs.existsSync(path.join(socketDir, ".s.PGSQL.5432"))) return { kind: "pglite-socket", dir, socketDir };
  return { kind: "pglite", dir };
}

/** pg connection settings for a socket or server target. */
export function pgConnection(t: Exclude<DbTarget, { kind: "pglite" }>) {
  return t.kind === "postgres" ? pgConfig(t.url) : { host: t.socketDir, port: 5432, user: "postgres", password: "", database: "postgres" };
}

/** The live process holding the embedded database's lock, or null. */
export function lockHolder(dir: string): number | null {
  try {
    const pid = Number(fs.readFileSync(`${dir}.lock`, "utf8"));
    return pid && isAlive(pid) ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Discrete pg connection fields (a connectionString would override `database` for shadow databases). Sessions
 * run in UTC: timestamps are stored without a zone (Prisma's convention is UTC), so a server whose default
 * zone is another must not fill `now()` defaults in its local time.
 */
export function pgConfig(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)),
    options: "-c TimeZone=UTC",
  };
}

/** A description of the target that is safe to log (no password). */
export function describeTarget(t: DbTarget): string {
  if (t.kind === "pglite") return `embedded PGlite at ${t.dir}`;
  if (t.kind === "pglite-socket") return `embedded PGlite at ${t.dir} (served by the running product)`;
  const c = pgConfig(t.url);
  return `PostgreSQL ${c.user}@${c.host}:${c.port}/${c.database}`;
}

/**
 * PGlite is one process's database: a second opener would corrupt it. Take an exclusive lock file
 * beside the data directory (a stale lock of a dead process is taken over). Returns the release function.
 */
export function lockEmbedded(dir: string): () => void {
  const file = `${dir}.lock`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: "wx" });
      const release = () => {
        try {
          if (fs.readFileSync(file, "utf8") === String(process.pid)) fs.unlinkSync(file);
        } catch {}
      };
      process.once("exit", release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(fs.readFileSync(file, "utf8"));
      if (pid && pid !== process.pid && isAlive(pid)) {
        throw new AppError(
          "database_busy",
          `the embedded database ${dir} is open in process ${pid} (is PSS running?): stop it first, or set DATABASE_URL to share a PostgreSQL server`,
          409,
        );
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new AppError("database_busy", `cannot lock the embedded database ${dir}`, 409);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Write a secret file whole or not at all: a temporary file (0600) is written and synced, then linked into place,
 * so a crash never leaves a short file, and of two processes creating it at once one wins and both read it.
 */
export function writeNewSecretFile(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  const fd = fs.openSync(tmp, "wx", 0o600);
  try {
    fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * The embedded database's folder, private to this user (0700): PGlite creates its files readable and writable
 * by everyone (0666), so the folder is what keeps other local accounts from reading or editing them.
 */
export function privateDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  return dir;
}
