// The embedded database as a server: the product process opens PGlite once and serves it over a Unix
// socket with the Postgres wire protocol (pglite-socket queues statements and keeps one connection's open
// transaction to itself). Every Prisma client — this process's, the `pss` CLI's, device-listener workers' —
// then connects through @prisma/adapter-pg exactly as to a PostgreSQL server: one code path for both.
import fs from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { type DbTarget, lockEmbedded } from "./target.ts";

export async function serveEmbedded(dir: string, socketDir: string): Promise<{ target: DbTarget; close(): Promise<void> }> {
  const release = lockEmbedded(dir);
  const pglite = new PGlite(dir);
  await pglite.waitReady;
  fs.mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  const socketPath = path.join(socketDir, ".s.PGSQL.5432");
  fs.rmSync(socketPath, { force: true }); // a stale socket of a process that died (we hold the lock now)
  const server = new PGLiteSocketServer({ db: pglite, path: socketPath, maxConnections: 256 });
  await server.start();
  fs.chmodSync(socketPath, 0o600);
  return {
    target: { kind: "pglite-socket", dir, socketDir },
    async close() {
      await server.stop();
      fs.rmSync(socketPath, { force: true });
      await pglite.close();
      release();
    },
  };
}
