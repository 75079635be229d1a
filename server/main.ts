// One process starts everything (SPEC §9): migrations (in a child process: one wasm schema engine per
// process, and PGlite allows one opener), then the portal + customer API on PORT and the mTLS device
// listener on DEVICE_PORT. SIGTERM/SIGINT close both and the database.
import { spawnSync } from "node:child_process";
import type http from "node:http";
import type https from "node:https";
import type { Server } from "node:net";
import path from "node:path";
import next from "next";
import { ensureHierarchy } from "../lib/data/ca/hierarchy.ts";
import { keyStore } from "../lib/data/ca/key-store.ts";
import { ensureInitialStaff, handOverInitialPassword } from "../lib/data/users/ensure-initial-staff.ts";
import { closeDb, openDatabase } from "../lib/db/client.ts";
import { serveEmbedded } from "../lib/db/embedded.ts";
import { dbTarget, embeddedDir, embeddedSocketDir } from "../lib/db/target.ts";
import { ConfigError, env, exportNextAuthUrl } from "../lib/env.ts";
import { log } from "../lib/log.ts";
import { exposition, metrics } from "../lib/metrics.ts";
import { type DeviceCluster, startDeviceCluster } from "./device-cluster.ts";
import { createDeviceListener, replaceListenerTls } from "./device-listener.ts";
import { issueListenerTls, keepListenerTlsFresh } from "./device-tls.ts";
import { startScheduler } from "./scheduler.ts";
import { createWebServer, metricsAllowed, prepareWebRequest } from "./web-request.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

function fail(message: string): never {
  console.error(`pss: ${message}`);
  process.exit(1);
}

function migrate() {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(ROOT, "scripts/migrate.ts"), "deploy"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (r.status !== 0) fail((r.stderr || r.stdout || "migration failed").trim().split("\n").at(-1) ?? "migration failed");
  log.info({ migrate: r.stdout.trim() }, "database ready");
}

function listen(server: Server, port: number, host: string, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          e.code === "EADDRINUSE" ? `port ${port} (${name}) is already in use` : `cannot listen on ${host}:${port} (${name}): ${e.message}`,
        ),
      ),
    );
    server.listen(port, host, () => {
      // later errors (an accept failing with EMFILE, say) are logged: with no listener they would end the process
      server.on("error", (e) => log.error({ err: e.message, listener: name }, "listener error"));
      resolve();
    });
  });
}

async function main() {
  let e: ReturnType<typeof env>;
  try {
    e = env();
  } catch (err) {
    fail(err instanceof ConfigError ? err.message : String(err));
  }
  const dev = e.NODE_ENV === "development";
  exportNextAuthUrl(e);

  // Bind the web port first: a port in use is reported at once, before migrations and the start of Next.js
  // (until then the portal answers 503 "starting").
  let handle: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | null = null;
  // the device workers, once started: /metrics adds theirs
  let deviceCluster: DeviceCluster | null = null;
  const web = createWebServer({ maxConnections: e.WEB_MAX_CONNECTIONS }, (req, res) => {
    if (req.url === "/metrics") {
      if (!metricsAllowed(req.headers.authorization, e.METRICS_TOKEN)) {
        res.writeHead(401, { "www-authenticate": 'Bearer realm="metrics"', "content-type": "text/plain" }).end("unauthorized\n");
        return;
      }
      // with device workers, their counters too (each process keeps its own registry)
      (deviceCluster ? deviceCluster.metrics() : Promise.resolve([]))
        .then((workers) => exposition(workers))
        .then((body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body))
        .catch((err) => {
          log.error({ err }, "metrics failed");
          res.writeHead(500).end();
        });
      return;
    }
    res.on("finish", () => metrics.httpRequests.inc({ listener: "web", status: String(res.statusCode) }));
    if (!handle) {
      res.writeHead(503, { "retry-after": "2", "content-type": "text/plain" }).end("starting\n");
      return;
    }
    prepareWebRequest(req, e.TRUST_PROXY_HOPS);
    handle(req, res);
  });
  await listen(web, e.PORT, e.HOST, "PORT");

  migrate();
  // The embedded database is served on a socket so the `pss` CLI (and any worker) can use it while we run.
  const embedded = e.embedded ? await serveEmbedded(embeddedDir(e.dataDir), embeddedSocketDir(e.dataDir)) : null;
  if (embedded) openDatabase(embedded.target);
  const staff = await ensureInitialStaff();
  // never in the structured log: printed on a terminal, else written to a file only this user can read
  if (staff?.generatedPassword) handOverInitialPassword({ email: staff.email, generatedPassword: staff.generatedPassword }, e.dataDir);
  else if (staff) log.info({ email: staff.email }, "created the first staff account");

  await keyStore(); // checks the master key against the database's canary: fail closed at start
  const hierarchy = await ensureHierarchy();
  if (hierarchy.created.length) log.info({ created: hierarchy.created }, "created the CA hierarchy");
  const tls = await issueListenerTls();
  // DEVICE_WORKERS > 0: worker processes serve the device port and reach the database like the CLI does
  let device: https.Server | null = null;
  if (e.deviceWorkers > 0) {
    const target = embedded ? embedded.target : dbTarget(e);
    if (target.kind === "pglite") fail("device workers need the embedded database served on its socket");
    deviceCluster = await startDeviceCluster({ tls, count: e.deviceWorkers, port: e.DEVICE_PORT, host: e.HOST, target }).catch((err) =>
      fail(err instanceof Error ? err.message : String(err)),
    );
  } else {
    device = createDeviceListener(tls);
    await listen(device, e.DEVICE_PORT, e.HOST, "DEVICE_PORT");
  }

  const stopScheduler = startScheduler();
  const stopTlsRenewal = keepListenerTlsFresh(tls, (next) => (device ? replaceListenerTls(device, next) : deviceCluster?.replaceTls(next)));

  const app = next({ dev, dir: ROOT, hostname: "localhost", port: e.PORT });
  await app.prepare();
  handle = app.getRequestHandler();
  log.info(
    {
      port: e.PORT,
      devicePort: e.DEVICE_PORT,
      deviceWorkers: e.deviceWorkers,
      database: e.embedded ? "embedded" : "postgresql",
      listenerCert: tls.serial,
    },
    "pss started",
  );
  console.log(`PSS portal on http://localhost:${e.PORT} — device listener (mTLS) on https://localhost:${e.DEVICE_PORT}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));
    stopScheduler();
    stopTlsRenewal();
    web.closeIdleConnections();
    device?.closeIdleConnections();
    setTimeout(() => process.exit(0), 10_000).unref();
    await Promise.all([close(web), device ? close(device) : deviceCluster?.close()]);
    await app.close?.();
    await closeDb();
    await embedded?.close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
