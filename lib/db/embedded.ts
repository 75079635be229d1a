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

type FromDatabase = "ready" | "stopped" | { type: "maintained"; statements: string[]; failed: string[]; ids: number[] };

export async function serveEmbedded(
  dir: string,
  socketDir: string,
  { maintenanceMs = MAINTENANCE_MS } = {},
): Promise<{ target: DbTarget; maintainNow(): Promise<{ statements: string[]; failed: string[] }>; close(): Promise<void> }> {
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
    if (m.statements.length) log.debug({ statements: m.statements }, "embedded database maintenance");
    if (m.failed.length) log.error({ failed: m.failed }, "embedded database maintenance failed");
  });
  let maintenanceRequests = 0;
  return {
    target: { kind: "pglite-socket", dir, socketDir },
    /** Run a maintenance round now (once no connection holds a transaction open); resolves with what it ran. */
    maintainNow() {
      const id = ++maintenanceRequests;
      return new Promise<{ statements: string[]; failed: string[] }>((resolve, reject) => {
        const done = () => worker.off("message", onMessage).off("exit", onExit);
        const onMessage = (m: FromDatabase) => {
          if (typeof m !== "object" || !m.ids.includes(id)) return;
          done();
          resolve({ statements: m.statements, failed: m.failed });
        };
        const onExit = () => {
          done();
          reject(new Error("the embedded database stopped"));
        };
        worker.on("message", onMessage).on("exit", onExit);
        worker.postMessage({ type: "maintain", id });
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
