// The embedded database as a server: the product process opens PGlite once and serves it over a Unix
// socket with the Postgres wire protocol (pglite-socket queues statements and keeps one connection's open
// transaction to itself). Every Prisma client — this process's, the `pss` CLI's, device-listener workers' —
// then connects through @prisma/adapter-pg exactly as to a PostgreSQL server: one code path for both.
// PGlite runs on a thread of its own (./embedded-worker.mjs): the database's work does not take turns with
// the event loop that serves requests and signs, so on a machine with two cores each gets one. That thread
// also does autovacuum's work (./embedded-maintenance.mjs), checking every `maintenanceMs`.
import fs from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { log } from "../log.ts";
import { type DbTarget, lockEmbedded, privateDir } from "./target.ts";

/** How often the database's thread checks which tables autovacuum would vacuum or analyze now. */
const MAINTENANCE_MS = 30_000;

type FromDatabase = "ready" | "stopped" | { type: "maintained"; statements: string[] } | { type: "maintenance-failed"; message: string };

export async function serveEmbedded(
  dir: string,
  socketDir: string,
  { maintenanceMs = MAINTENANCE_MS } = {},
): Promise<{ target: DbTarget; maintainNow(): Promise<string[]>; close(): Promise<void> }> {
  const release = lockEmbedded(privateDir(dir));
  fs.mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  const socketPath = path.join(socketDir, ".s.PGSQL.5432");
  const worker = new Worker(new URL("./embedded-worker.mjs", import.meta.url), { workerData: { dir, socketPath, maintenanceMs } });
  let closing = false;
  try {
    await new Promise<void>((resolve, reject) => {
      const settle = (e?: Error) => {
        worker.off("message", onMessage).off("error", settle).off("exit", onExit);
        e ? reject(e) : resolve();
      };
      const onMessage = (m: FromDatabase) =>
        typeof m === "object" ? undefined : settle(m === "ready" ? undefined : new Error(`embedded database: ${String(m)}`));
      const onExit = (code: number) => settle(new Error(`the embedded database stopped while starting (exit ${code})`));
      worker.on("message", onMessage).on("error", settle).on("exit", onExit);
    });
  } catch (e) {
    release();
    throw e;
  }
  // Nothing can work without the database: its thread failing or ending ends the process, loudly.
  const fatal = (why: string) => {
    if (closing) return;
    setImmediate(() => {
      throw new Error(`the embedded database ${why}`);
    });
  };
  worker.on("error", (e) => fatal(`failed: ${e instanceof Error ? e.message : String(e)}`));
  worker.on("exit", (code) => fatal(`stopped (exit ${code})`));
  worker.on("message", (m: FromDatabase) => {
    if (typeof m !== "object") return;
    if (m.type === "maintained") m.statements.length && log.debug({ statements: m.statements }, "embedded database maintenance");
    else log.error({ err: m.message }, "embedded database maintenance failed");
  });
  return {
    target: { kind: "pglite-socket", dir, socketDir },
    /** Run the maintenance now (once no connection holds a transaction open); resolves with the statements it ran. */
    maintainNow() {
      return new Promise((resolve, reject) => {
        const onMessage = (m: FromDatabase) => {
          if (typeof m !== "object") return;
          worker.off("message", onMessage);
          m.type === "maintained" ? resolve(m.statements) : reject(new Error(m.message));
        };
        worker.on("message", onMessage);
        worker.postMessage("maintain");
      });
    },
    async close() {
      closing = true;
      await new Promise<void>((resolve) => {
        worker.on("message", (m: FromDatabase) => m === "stopped" && resolve());
        worker.once("exit", () => resolve());
        worker.postMessage("stop");
      });
      await worker.terminate();
      release();
    },
  };
}
