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
  keepBatchesTogether(server, pglite);
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

type QueueItem = {
  handlerId: number;
  message: Uint8Array;
  onData(d: Uint8Array): void;
  resolve(n: number): void;
  reject(e: unknown): void;
};
type Queue = {
  queue: QueueItem[];
  processing: boolean;
  lastHandlerId: number | null;
  processQueue(): Promise<void>;
  clearTransactionIfNeeded(handlerId: number): Promise<void>;
};

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
 */
function keepBatchesTogether(server: PGLiteSocketServer, db: PGlite) {
  const q = (server as unknown as { queryQueue: Queue }).queryQueue;
  let openBatch: number | null = null;
  q.processQueue = async function processQueue() {
    if (q.processing) return;
    q.processing = true;
    try {
      while (q.queue.length > 0) {
        const owner = openBatch ?? (db.isInTransaction() ? q.lastHandlerId : null);
        const index = owner === null ? 0 : q.queue.findIndex((i) => i.handlerId === owner);
        if (index === -1) break; // wait for the owner's next message
        const [item] = q.queue.splice(index, 1);
        const type = item.message[0];
        let bytes = 0;
        try {
          await db.runExclusive(() =>
            db.execProtocolRawStream(item.message, {
              onRawData: (d: Uint8Array) => {
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
  q.clearTransactionIfNeeded = async (handlerId: number) => {
    if (openBatch === handlerId) openBatch = null; // a connection that went away mid-batch
    await clear(handlerId);
    await q.processQueue();
  };
}
