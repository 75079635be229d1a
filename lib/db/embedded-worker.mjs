// The embedded database's thread (started by serveEmbedded in ./embedded.ts): PGlite and its socket server run
// here, so the database's work (its WebAssembly engine, its file I/O) uses a core of its own instead of the
// event loop that serves the portal, the device listener and the signing. Plain JavaScript: a worker thread
// must load without a TypeScript loader (under tsx, vitest and the `pss` CLI alike).
import fs from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

/** @type {{ dir: string, socketPath: string }} */
const { dir, socketPath } = workerData;

// Extended-protocol messages (Parse, Bind, Describe, Execute, Close, Flush, FunctionCall) of one connection
// belong together until its Sync; a simple Query stands alone.
const EXTENDED = new Set([0x50, 0x42, 0x44, 0x45, 0x43, 0x48, 0x46]);
const SYNC = 0x53;

/**
 * pglite-socket 0.2.17 queues single protocol messages from all connections and keeps a connection's open
 * *transaction* to itself, but not its extended-protocol batch: with two connections busy, one's Bind can
 * land between the other's Parse and Execute ("portal does not exist"). And a failed message leaves its
 * queue stuck. Replace the queue's scheduler with one that keeps a connection until its Sync (or the end
 * of its transaction) and always releases the queue.
 * @param {PGLiteSocketServer} server
 * @param {PGlite} db
 */
function keepBatchesTogether(server, db) {
  const q = /** @type {any} */ (server).queryQueue;
  /** @type {number | null} */
  let openBatch = null;
  q.processQueue = async function processQueue() {
    if (q.processing) return;
    q.processing = true;
    try {
      while (q.queue.length > 0) {
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
}

const pglite = new PGlite(dir);
await pglite.waitReady;
fs.rmSync(socketPath, { force: true }); // a stale socket of a process that died (the caller holds the lock now)
const server = new PGLiteSocketServer({ db: pglite, path: socketPath, maxConnections: 256 });
keepBatchesTogether(server, pglite);
await server.start();
fs.chmodSync(socketPath, 0o600);

parentPort?.on("message", async (message) => {
  if (message !== "stop") return;
  await server.stop();
  fs.rmSync(socketPath, { force: true });
  await pglite.close();
  parentPort?.postMessage("stopped");
});
parentPort?.postMessage("ready");
