// The device listener in several processes (node:cluster), so TLS handshakes and signing use every core.
// The primary keeps the database (the embedded PGlite, served on its socket, or PostgreSQL) and the
// scheduler; each worker opens its own client to that target — exactly as the `pss` CLI joins a running
// product — and runs createDeviceListener on the shared port (the primary hands out connections round-robin).
// The workers share the TLS session ticket keys (rotated in step, ticket-keys.ts), so a session resumes on any worker.
import cluster, { type Worker } from "node:cluster";
import path from "node:path";
import type { DbTarget } from "../lib/db/target.ts";
import type { Env } from "../lib/env.ts";
import { log } from "../lib/log.ts";
import type { ProcessMetrics } from "../lib/metrics.ts";
import type { ListenerTls } from "./device-tls.ts";
import { TicketKeyRatchet, type TicketSecret } from "./ticket-keys.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

export type WorkerConfig = {
  tls: ListenerTls;
  /** the primary's ticket key ratchet at the time of the fork: every worker rotates in step from it */
  tickets: TicketSecret;
  target: Exclude<DbTarget, { kind: "pglite" }>;
  port: number;
  host: string;
  /** the supersession sweep runs in the first worker only */
  sweepMs: number;
  /** settings that differ from the environment in this run (overrideEnv) */
  settings?: Partial<Env>;
};

/**
 * What the workers inherit from this process's flags: the export conditions (`--conditions=x`, `--conditions x`,
 * `-C x`) and the heap sizing (`--max-semi-space-size=N`, `--max-old-space-size=N`, as `npm start` sets them).
 */
export function inheritedArgs(argv: string[]): string[] {
  const out: string[] = [];
  argv.forEach((a, i) => {
    if (/^--(conditions|max-semi-space-size|max-old-space-size)=/.test(a)) out.push(a);
    else if ((a === "--conditions" || a === "-C") && argv[i + 1]) out.push(`--conditions=${argv[i + 1]}`);
  });
  return out;
}

export type DeviceCluster = {
  port: number;
  workers: number;
  /** a new listener key and certificate for every worker, and for the workers started after */
  replaceTls(tls: ListenerTls): void;
  /** each live worker's metrics (what /metrics adds to the primary's); a worker that does not answer in 2 s is left out */
  metrics(): Promise<ProcessMetrics[]>;
  close(): Promise<void>;
};

type FromWorker =
  | { type: "ready" }
  | { type: "listening"; port: number }
  | { type: "error"; message: string }
  | { type: "metrics"; id: number; metrics: ProcessMetrics };

let metricsRequests = 0;

/** Ask one worker for its metrics. */
function workerMetrics(w: Worker): Promise<ProcessMetrics | null> {
  const id = ++metricsRequests;
  return new Promise((resolve) => {
    const done = (m: ProcessMetrics | null) => {
      clearTimeout(timer);
      w.off("message", onMessage);
      resolve(m);
    };
    const onMessage = (m: FromWorker) => {
      if (m.type === "metrics" && m.id === id) done(m.metrics);
    };
    const timer = setTimeout(() => done(null), 2000);
    w.on("message", onMessage);
    w.send({ type: "metrics", id });
  });
}

/** Fork `count` device-listener workers on `port` (0: a free port, the same for all) and wait until they listen. */
export async function startDeviceCluster(opts: {
  tls: ListenerTls;
  count: number;
  port: number;
  host: string;
  /** the embedded database served on its socket, or PostgreSQL (a PGlite directory has one opener) */
  target: DbTarget;
  sweepMs?: number;
  settings?: Partial<Env>;
}): Promise<DeviceCluster> {
  if (!cluster.isPrimary) throw new Error("startDeviceCluster must run in the primary process");
  const target = opts.target;
  if (target.kind === "pglite") throw new Error("device workers need the embedded database served on its socket, or PostgreSQL");
  cluster.setupPrimary({
    exec: path.join(ROOT, "server/device-worker.ts"),
    // the TypeScript loader, and the primary's export conditions (the CLI runs with react-server) and heap sizing
    execArgv: ["--import", "tsx", ...inheritedArgs(process.execArgv)],
    cwd: ROOT,
    silent: false,
  });
  // the primary only hands the ratchet on; it moves it forward every period too, so it never keeps an old state
  const tickets = new TicketKeyRatchet();
  const stopTickets = tickets.schedule(() => {});
  const workers = new Set<Worker>();
  let tls = opts.tls;
  let stopping = false;
  let port = opts.port;

  const fork = (index: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const w = cluster.fork();
      workers.add(w);
      // built when the worker asks for it, not at the fork: a certificate replaced (replaceTls) while the worker
      // was still loading reaches it, and the ticket state is the current period's
      const config = (): WorkerConfig => ({
        tls,
        tickets: tickets.share(),
        target,
        // every worker asks for the same port, so the primary shares one handle (listen(0) in a cluster gives
        // all workers the same free port); a replacement asks for the port the first workers got
        port,
        host: opts.host,
        sweepMs: index === 0 ? (opts.sweepMs ?? 10 * 60_000) : 0,
        ...(opts.settings ? { settings: opts.settings } : {}),
      });
      w.on("message", (m: FromWorker) => {
        // "ready": the worker's modules are loaded and it listens for its configuration
        if (m.type === "ready") w.send({ type: "start", config: config() });
        else if (m.type === "listening") resolve(m.port);
        else if (m.type === "error") reject(new Error(m.message));
      });
      w.once("exit", (code, signal) => {
        workers.delete(w);
        reject(new Error(`device worker exited (${signal ?? code}) before listening`));
        if (stopping) return;
        // a crashed worker is replaced, the others keep serving meanwhile; one that keeps crashing (say, the
        // database is down) is restarted ever more slowly, up to once a minute, not in a tight loop
        const now = Date.now();
        const crashes = now - (lastCrash.get(index) ?? 0) < 60_000 ? (crashCount.get(index) ?? 0) + 1 : 1;
        crashCount.set(index, crashes);
        lastCrash.set(index, now);
        const delay = Math.min(60_000, 250 * 2 ** (crashes - 1));
        log.error({ code, signal, worker: index, restartInMs: delay }, "device worker exited; starting another");
        setTimeout(() => {
          if (!stopping) fork(index).catch((e) => log.error({ err: e }, "device worker restart failed"));
        }, delay).unref();
      });
    });

  const lastCrash = new Map<number, number>();
  const crashCount = new Map<number, number>();
  try {
    const ports = await Promise.all(Array.from({ length: opts.count }, (_, i) => fork(i)));
    port = ports[0];
  } catch (e) {
    stopping = true;
    stopTickets();
    for (const w of workers) w.kill();
    throw e;
  }
  return {
    port,
    workers: opts.count,
    replaceTls(next) {
      tls = next;
      for (const w of workers) if (w.isConnected()) w.send({ type: "tls", tls: next });
    },
    async metrics() {
      const all = await Promise.all([...workers].filter((w) => w.isConnected()).map(workerMetrics));
      return all.filter((m): m is ProcessMetrics => m !== null);
    },
    async close() {
      stopping = true;
      stopTickets();
      await Promise.all(
        [...workers].map(
          (w) =>
            new Promise<void>((resolve) => {
              const timer = setTimeout(() => w.kill("SIGKILL"), 10_000);
              w.once("exit", () => {
                clearTimeout(timer);
                resolve();
              });
              w.send({ type: "stop" });
            }),
        ),
      );
    },
  };
}
