// `pss bench enroll`: EST enrollment throughput of the device listener over real mutual TLS, with the load
// generator in a separate process: bare full handshakes (the ceiling), then simpleenroll on fresh handshakes,
// on resumed TLS sessions and on kept-alive connections. Runs on a scratch database (embedded, served on its
// socket as the product serves it, or a PostgreSQL given by --database-url), never the product's data.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { machineBusySeconds, withScratchDatabase } from "../../lib/bench/harness.ts";
import { issueAndStore } from "../../lib/data/certificates/issue-certificate.ts";
import { createCustomer } from "../../lib/data/customers/create-customer.ts";
import { overrideEnv } from "../../lib/env.ts";
import { createCsr } from "../../lib/pki/csr.ts";
import { newPrivateKey } from "../../lib/pki/keygen.ts";
import { startDeviceCluster } from "../../server/device-cluster.ts";
import { createDeviceListener } from "../../server/device-listener.ts";
import { issueListenerTls } from "../../server/device-tls.ts";
import { type Command, flags } from "../io.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const system = { type: "system", id: "bench" } as const;

export const benchEnroll: Command = {
  name: "bench enroll",
  summary: "EST enrollments/s over mTLS (fresh, resumed, keep-alive) against the bare TLS handshake rate",
  usage:
    "pss bench enroll [--seconds N] [--warmup N] [--concurrency N] [--workers N] [--modes handshake,fresh,resumed,keepalive] [--database-url postgresql://…] [--json]",
  async run({ args }) {
    const { values } = flags(args, {
      seconds: { type: "string" },
      warmup: { type: "string" },
      concurrency: { type: "string" },
      workers: { type: "string" },
      modes: { type: "string" },
      "database-url": { type: "string" },
    });
    // --workers N: the listener in N cluster workers reaching the database over its socket or PostgreSQL
    // (the product's DEVICE_WORKERS layout); 0 (default): the listener in this process
    const workers = values.workers === "auto" ? os.availableParallelism() : Number(values.workers ?? 0);
    const seconds = Number(values.seconds ?? 5);
    // each mode first runs uncounted, so the server's code is compiled before it is measured
    const warmup = Number(values.warmup ?? 2);
    const concurrency = Number(values.concurrency ?? 8);
    const databaseUrl = values["database-url"];
    // one bootstrapping certificate enrolls every device of the run: the per-certificate attempt limit is off
    const settings = { DEVICE_ENROLL_RATE_PER_MINUTE: 0 };
    overrideEnv(settings);
    // the database as the product has it: embedded PGlite served on its socket, or PostgreSQL
    return withScratchDatabase(async (target) => {
      const c = await createCustomer(
        {
          name: `Bench ${randomBytes(4).toString("hex")}`,
          adminEmail: `bench-${randomBytes(4).toString("hex")}@example.test`,
          adminPassword: "a-long-password-1",
        },
        system,
      );
      const privateKey = newPrivateKey();
      const boot = await issueAndStore({
        profile: "bootstrap",
        csr: createCsr({ key: privateKey }),
        customerId: c.customer.id,
        uid: c.user.uid,
        actor: system,
      });
      const tlsMaterial = await issueListenerTls();
      let port: number;
      // handshakes the in-process listener completed (cluster workers are other processes)
      let handshakes = 0;
      let stop: () => Promise<void>;
      if (workers > 0) {
        const c = await startDeviceCluster({
          tls: tlsMaterial,
          count: workers,
          port: 0,
          host: "127.0.0.1",
          target,
          sweepMs: 0,
          settings,
        });
        port = c.port;
        stop = () => c.close();
      } else {
        const server = createDeviceListener(tlsMaterial, { sweepMs: 0 });
        server.on("secureConnection", () => handshakes++);
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
        warmup,
        seconds,
        concurrency,
        modes: (values.modes ?? "handshake,fresh,resumed,keepalive").split(","),
      };
      type ModeResult = { mode: string; per_s: number; ops: number; errors: number; p50_ms: number; resumed: number };
      // The server's CPU time per operation and the handshakes it completed, read between the load generator's
      // "start" and result lines (only when the listener runs in this process: cluster workers are other processes).
      const results: (ModeResult & {
        server_cpu_ms_per_op: number | null;
        machine_cpu_ms_per_op: number | null;
        server_handshakes: number | null;
      })[] = [];
      await new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "server/est/bench-load.ts"), JSON.stringify(config)], {
          cwd: ROOT,
        });
        let stderr = "";
        let cpu = process.cpuUsage();
        let machine = machineBusySeconds();
        let handshakesBefore = 0;
        readline.createInterface({ input: child.stdout }).on("line", (line) => {
          if (!line.startsWith("{")) return;
          const msg = JSON.parse(line) as ModeResult | { start: string };
          if ("start" in msg) {
            cpu = process.cpuUsage();
            machine = machineBusySeconds();
            handshakesBefore = handshakes;
            return;
          }
          const used = process.cpuUsage(cpu);
          const machineNow = machineBusySeconds();
          const perOp = (ms: number) => Math.round((ms / Math.max(msg.ops, 1)) * 100) / 100;
          const inProcess = workers === 0;
          results.push({
            ...msg,
            server_cpu_ms_per_op: inProcess ? perOp((used.user + used.system) / 1000) : null,
            // every process of the machine: listener(s), load generator, database server
            machine_cpu_ms_per_op: machine === null || machineNow === null ? null : perOp((machineNow - machine) * 1000),
            server_handshakes: inProcess ? handshakes - handshakesBefore : null,
          });
        });
        child.stderr.on("data", (d) => (stderr += d));
        // "close", not "exit": every line of its output has been read by then
        child.on("close", (code) =>
          code === 0 ? resolve() : reject(new Error(`load generator failed: ${stderr.trim().split("\n").at(-1)}`)),
        );
      });
      await stop();
      const by = Object.fromEntries(results.map((r) => [r.mode, r]));
      return {
        cores: os.availableParallelism(),
        listener_processes: workers > 0 ? workers : 1,
        database: databaseUrl ? "postgresql" : "embedded PGlite served on its socket by this process",
        seconds,
        concurrency,
        bare_handshake_per_s: by.handshake?.per_s ?? null,
        fresh_enroll_per_s: by.fresh?.per_s ?? null,
        resumed_enroll_per_s: by.resumed?.per_s ?? null,
        keepalive_enroll_per_s: by.keepalive?.per_s ?? null,
        fresh_vs_handshake: by.fresh && by.handshake ? Math.round((by.fresh.per_s / by.handshake.per_s) * 100) / 100 : null,
        resumed_sessions: by.resumed?.resumed ?? null,
        errors: results.reduce((n, r) => n + r.errors, 0),
        detail: results,
      };
    }, databaseUrl);
  },
};
