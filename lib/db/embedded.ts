// The embedded database as a server: the product process opens PGlite once and serves it over a Unix
// socket with the Postgres wire protocol (pglite-socket queues statements and keeps one connection's open
// transaction to itself). Every Prisma client — this process's, the `pss` CLI's, device-listener workers' —
// then connects through @prisma/adapter-pg exactly as to a PostgreSQL server: one code path for both.
// PGlite runs on a thread of its own (./embedded-worker.mjs): the database's work does not take turns with
// the event loop that serves requests and signs, so on a machine with two cores each gets one.
import fs from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { type DbTarget, lockEmbedded, privateDir } from "./target.ts";

export async function serveEmbedded(dir: string, socketDir: string): Promise<{ target: DbTarget; close(): Promise<void> }> {
  const release = lockEmbedded(privateDir(dir));
  fs.mkdirSync(socketDir, { recursive: true, mode: 0o700 });
  const socketPath = path.join(socketDir, ".s.PGSQL.5432");
  const worker = new Worker(new URL("./embedded-worker.mjs", import.meta.url), { workerData: { dir, socketPath } });
  let closing = false;
  try {
    await new Promise<void>((resolve, reject) => {
      const settle = (e?: Error) => {
        worker.off("message", onMessage).off("error", settle).off("exit", onExit);
        e ? reject(e) : resolve();
      };
      const onMessage = (m: unknown) => settle(m === "ready" ? undefined : new Error(`embedded database: ${String(m)}`));
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
  return {
    target: { kind: "pglite-socket", dir, socketDir },
    async close() {
      closing = true;
      await new Promise<void>((resolve) => {
        worker.once("message", () => resolve());
        worker.once("exit", () => resolve());
        worker.postMessage("stop");
      });
      await worker.terminate();
      release();
    },
  };
}
