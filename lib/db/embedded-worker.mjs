// The embedded database's thread (started by serveEmbedded in ./embedded.ts): PGlite and its socket server run
// here, so the database's work (its WebAssembly engine, its file I/O) uses a core of its own instead of the
// event loop that serves the portal, the device listener and the signing. It also does autovacuum's work, which
// PGlite has no process for (./embedded-maintenance.mjs). Plain JavaScript: a worker thread must load without a
// TypeScript loader (under tsx, vitest and the `pss` CLI alike).
import fs from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { dueStatements } from "./embedded-maintenance.mjs";
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
  /** maintainNow requests waiting for the next round */
  /** @type {number[]} */
  let requests = [];
  /** the round under way: statements left, run, failed, and the requests it answers */
  /** @type {{ left: string[], ran: string[], failed: string[], ids: number[] } | null} */
  let round = null;
  // after a maintenance statement, a waiting client message goes first: statements take turns with clients
  let clientsFirst = false;
  let closing = false;
  /** @param {unknown} e */
  const reason = (e) => (e instanceof Error ? e.message : String(e));
  const maintenanceTurn = async () => {
    if (!round) {
      maintenanceDue = false;
      round = { left: [], ran: [], failed: [], ids: requests };
      requests = [];
      try {
        round.left = await dueStatements(db);
      } catch (e) {
        round.failed.push(`reading the statistics: ${reason(e)}`);
      }
    } else {
      const statement = /** @type {string} */ (round.left.shift());
      try {
        await db.exec(statement);
        round.ran.push(statement);
      } catch (e) {
        // one table's failure does not keep the others from their turn
        round.failed.push(`${statement}: ${reason(e)}`);
      }
      clientsFirst = true;
    }
    if (round.left.length === 0) {
      if (!closing) parentPort?.postMessage({ type: "maintained", statements: round.ran, failed: round.failed, ids: round.ids });
      round = null;
    }
  };
  q.processQueue = async function processQueue() {
    if (q.processing) return;
    q.processing = true;
    try {
      for (;;) {
        const idle = openBatch === null && !db.isInTransaction();
        if (idle && (round || maintenanceDue) && !(clientsFirst && q.queue.length > 0)) {
          await maintenanceTurn();
          continue;
        }
        clientsFirst = false;
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
  /** @param {number} [id] a maintainNow request, answered when the next round ends */
  const requestMaintenance = (id) => {
    if (id !== undefined) requests.push(id);
    maintenanceDue = true;
    void q.processQueue();
  };
  const timer = setInterval(() => requestMaintenance(), maintenanceMs);
  timer.unref();
  return {
    requestMaintenance,
    stop: () => {
      closing = true;
      clearInterval(timer);
    },
  };
}

const pglite = openDurablePGlite(dir);
await pglite.waitReady;
fs.rmSync(socketPath, { force: true }); // a stale socket of a process that died (the caller holds the lock now)
const server = new PGLiteSocketServer({ db: pglite, path: socketPath, maxConnections: 256 });
const maintenance = scheduleStatements(server, pglite);
await server.start();
fs.chmodSync(socketPath, 0o600);

parentPort?.on("message", async (message) => {
  if (typeof message === "object" && message?.type === "maintain") return maintenance.requestMaintenance(message.id);
  if (message !== "stop") return;
  maintenance.stop();
  await server.stop();
  fs.rmSync(socketPath, { force: true });
  await pglite.close();
  parentPort?.postMessage("stopped");
});
parentPort?.postMessage("ready");
