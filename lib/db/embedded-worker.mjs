// The embedded database's thread (started by serveEmbedded in ./embedded.ts): PGlite and its socket server run
// here, so the database's work (its WebAssembly engine, its file I/O) uses a core of its own instead of the
// event loop that serves the portal, the device listener and the signing. It also does autovacuum's work, which
// PGlite has no process for (./embedded-maintenance.mjs). Plain JavaScript: a worker thread must load without a
// TypeScript loader (under tsx, vitest and the `pss` CLI alike).
import fs from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { maintain } from "./embedded-maintenance.mjs";
import { openDurablePGlite } from "./pglite-durable.mjs";

/** @typedef {import("@electric-sql/pglite").PGlite} PGlite */
/** @type {{ dir: string, socketPath: string, maintenanceMs: number }} */
const { dir, socketPath, maintenanceMs } = workerData;

// Extended-protocol messages (Parse, Bind, Describe, Execute, Close, Flush, FunctionCall) of one connection
// belong together until its Sync; a simple Query stands alone.
const EXTENDED = new Set([0x50, 0x42, 0x44, 0x45, 0x43, 0x48, 0x46]);
const SYNC = 0x53;

/**
 * pglite-socket 0.2.17 queues single protocol messages from all connections and keeps a connection's open
 * *transaction* to itself, but not its extended-protocol batch: with two connections busy, one's Bind can
 * land between the other's Parse and Execute ("portal does not exist"). And a failed message leaves its
 * queue stuck. Replace the queue's scheduler with one that keeps a connection until its Sync (or the end
 * of its transaction) and always releases the queue. Between two statements with no transaction open, it runs the
 * maintenance when the timer has asked for it (every `maintenanceMs`).
 * @param {PGLiteSocketServer} server
 * @param {PGlite} db
 */
function scheduleStatements(server, db) {
  const q = /** @type {any} */ (server).queryQueue;
  /** @type {number | null} */
  let openBatch = null;
  let maintenanceDue = false;
  q.processQueue = async function processQueue() {
    if (q.processing) return;
    q.processing = true;
    try {
      for (;;) {
        if (maintenanceDue && openBatch === null && !db.isInTransaction()) {
          maintenanceDue = false;
          await maintain(db).then(
            (statements) => parentPort?.postMessage({ type: "maintained", statements }),
            (e) => parentPort?.postMessage({ type: "maintenance-failed", message: e instanceof Error ? e.message : String(e) }),
          );
          continue;
        }
        if (q.queue.length === 0) break;
        const owner = openBatch ?? (db.isInTransaction() ? q.lastHandlerId : null);
        const index = owner === null ? 0 : q.queue.findIndex((/** @type {{ handlerId: number }} */ i) => i.handlerId === owner);
        if (index === -1) break; // wait for the owner's next message
        const [item] = q.queue.splice(index, 1);
        const type = item.message[0];
        let bytes = 0;
        try {
          await db.runExclusive(() =>
            db.execProtocolRawStream(item.message, {
              onRawData: (/** @type {Uint8Array} */ d) => {
                bytes += d.length;
                item.onData(d);
              },
            }),
          );
          item.resolve(bytes);
        } catch (e) {
          item.reject(e);
        }
        q.lastHandlerId = item.handlerId;
        openBatch = EXTENDED.has(type) ? item.handlerId : type === SYNC || openBatch === item.handlerId ? null : openBatch;
      }
    } finally {
      q.processing = false;
    }
  };
  const clear = q.clearTransactionIfNeeded.bind(q);
  q.clearTransactionIfNeeded = async (/** @type {number} */ handlerId) => {
    if (openBatch === handlerId) openBatch = null; // a connection that went away mid-batch
    await clear(handlerId);
    await q.processQueue();
  };
  const requestMaintenance = () => {
    maintenanceDue = true;
    void q.processQueue();
  };
  const timer = setInterval(requestMaintenance, maintenanceMs);
  timer.unref();
  return { requestMaintenance, stop: () => clearInterval(timer) };
}

const pglite = openDurablePGlite(dir);
await pglite.waitReady;
fs.rmSync(socketPath, { force: true }); // a stale socket of a process that died (the caller holds the lock now)
const server = new PGLiteSocketServer({ db: pglite, path: socketPath, maxConnections: 256 });
const maintenance = scheduleStatements(server, pglite);
await server.start();
fs.chmodSync(socketPath, 0o600);

parentPort?.on("message", async (message) => {
  if (message === "maintain") return maintenance.requestMaintenance();
  if (message !== "stop") return;
  maintenance.stop();
  await server.stop();
  fs.rmSync(socketPath, { force: true });
  await pglite.close();
  parentPort?.postMessage("stopped");
});
parentPort?.postMessage("ready");
