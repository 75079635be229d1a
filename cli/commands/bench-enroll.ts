// `pss bench enroll`: EST enrollment throughput of the device listener over real mutual TLS, with the load
// generator in a separate process: bare full handshakes (the ceiling), then simpleenroll on fresh handshakes,
// on resumed TLS sessions and on kept-alive connections. Runs on a scratch embedded database, so it never
// touches the product's data and works while the product runs.
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import fs from "node:fs";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { ensureHierarchy } from "../../lib/data/ca/hierarchy.ts";
import { issueAndStore } from "../../lib/data/certificates/issue-certificate.ts";
import { createCustomer } from "../../lib/data/customers/create-customer.ts";
import { closeDb, openDatabase } from "../../lib/db/client.ts";
import { serveEmbedded } from "../../lib/db/embedded.ts";
import { deployMigrations } from "../../lib/db/migrator.ts";
import { createCsr } from "../../lib/pki/csr.ts";
import { startDeviceCluster } from "../../server/device-cluster.ts";
import { createDeviceListener } from "../../server/device-listener.ts";
import { issueListenerTls } from "../../server/device-tls.ts";
import { type Command, flags } from "../io.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const system = { type: "system", id: "bench" } as const;

export const benchEnroll: Command = {
  name: "bench enroll",
  summary: "EST enrollments/s over mTLS (fresh, resumed, keep-alive) against the bare TLS handshake rate",
  usage: "pss bench enroll [--seconds N] [--concurrency N] [--workers N] [--json]",
  async run({ args }) {
    const { values } = flags(args, { seconds: { type: "string" }, concurrency: { type: "string" }, workers: { type: "string" } });
    // --workers N: the listener in N cluster workers, the database served by this process on its socket
    // (the product's DEVICE_WORKERS layout); 0 (default): one process with the database in it
    const workers = Number(values.workers ?? 0);
    const seconds = Number(values.seconds ?? 5);
    const concurrency = Number(values.concurrency ?? 8);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-bench-"));
    const target = { kind: "pglite" as const, dir: path.join(dir, "pglite") };
    try {
      await deployMigrations(target);
      const served = workers > 0 ? await serveEmbedded(target.dir, path.join(dir, "run")) : null;
      openDatabase(served ? served.target : target);
      await ensureHierarchy(system);
      const c = await createCustomer(
        { name: `Bench ${path.basename(dir).slice(-6)}`, adminEmail: "bench@example.test", adminPassword: "a-long-password-1" },
        system,
      );
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
      const boot = await issueAndStore({
        profile: "bootstrap",
        csr: createCsr({ key: privateKey }),
        customerId: c.customer.id,
        uid: c.user.uid,
        actor: system,
      });
      const tlsMaterial = await issueListenerTls();
      let port: number;
      let stop: () => Promise<void>;
      if (served) {
        const c = await startDeviceCluster({
          tls: tlsMaterial,
          count: workers,
          port: 0,
          host: "127.0.0.1",
          target: served.target,
          sweepMs: 0,
        });
        port = c.port;
        stop = async () => {
          await c.close();
          await closeDb();
          await served.close();
        };
      } else {
        const server = createDeviceListener(tlsMaterial, { sweepMs: 0 });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        port = (server.address() as AddressInfo).port;
        stop = () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          });
      }
      const config = {
        host: "127.0.0.1",
        port,
        ca: tlsMaterial.ca,
        cert: [boot.pem, ...boot.chainPem.slice(0, -1)].join(""),
        key: privateKey.export({ type: "pkcs8", format: "pem" }),
        seconds,
        concurrency,
        modes: ["handshake", "fresh", "resumed", "keepalive"],
      };
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "server/est/bench-load.ts"), JSON.stringify(config)], {
          cwd: ROOT,
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("exit", (code) =>
          code === 0 ? resolve(stdout) : reject(new Error(`load generator failed: ${stderr.trim().split("\n").at(-1)}`)),
        );
      });
      await stop();
      const results = JSON.parse(out.trim().split("\n").at(-1)!) as {
        mode: string;
        per_s: number;
        errors: number;
        p50_ms: number;
        resumed: number;
      }[];
      const by = Object.fromEntries(results.map((r) => [r.mode, r]));
      return {
        cores: os.availableParallelism(),
        listener_processes: workers > 0 ? workers : 1,
        database: workers > 0 ? "embedded PGlite in the primary, workers over its socket" : "embedded PGlite in the listener process",
        seconds,
        concurrency,
        bare_handshake_per_s: by.handshake.per_s,
        fresh_enroll_per_s: by.fresh.per_s,
        resumed_enroll_per_s: by.resumed.per_s,
        keepalive_enroll_per_s: by.keepalive.per_s,
        fresh_vs_handshake: Math.round((by.fresh.per_s / by.handshake.per_s) * 100) / 100,
        resumed_sessions: by.resumed.resumed,
        errors: results.reduce((n, r) => n + r.errors, 0),
        detail: results,
      };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
};
