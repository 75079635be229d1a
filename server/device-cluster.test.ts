// DEVICE_WORKERS: the device listener in a cluster worker process, the embedded database served by this
// (primary) process on its socket — enrollment, and a revocation made here refused by the worker.
import nodeCluster from "node:cluster";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { ensureHierarchy } from "../lib/data/ca/hierarchy.ts";
import { closeDb, db, openDatabase } from "../lib/db/client.ts";
import { serveEmbedded } from "../lib/db/embedded.ts";
import { Device } from "../lib/device-sdk/index.ts";
import { exposition } from "../lib/metrics.ts";
import { type DeviceCluster, inheritedArgs, startDeviceCluster } from "./device-cluster.ts";
import { issueListenerTls, type ListenerTls } from "./device-tls.ts";
import { est, type Listener, newBootstrap, newCustomer, system } from "./est/testing.ts";

const target = inject("pssTestDb");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pss-device-cluster-"));
let served: Awaited<ReturnType<typeof serveEmbedded>> | null = null;
let cluster: DeviceCluster;
let l: Listener;

beforeAll(async () => {
  if (target.kind === "postgres") openDatabase(target);
  else {
    const dir = path.join(scratch, "pglite");
    fs.cpSync(target.dir, dir, { recursive: true });
    served = await serveEmbedded(dir, path.join(scratch, "run"));
    openDatabase(served.target);
  }
  await ensureHierarchy(system);
  const material = await issueListenerTls();
  cluster = await startDeviceCluster({ tls: material, count: 1, port: 0, host: "127.0.0.1", target: served?.target ?? target, sweepMs: 0 });
  l = { server: null as never, url: `https://localhost:${cluster.port}`, rootPem: material.ca, close: async () => {} };
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  await closeDb();
  await served?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe("device listener in a cluster worker", () => {
  it("enrolls a device through the worker; a revocation made in the primary is refused there", async () => {
    const c = await newCustomer("Cluster");
    const boot = await newBootstrap(c);
    const device = await Device.enroll({
      dir: path.join(scratch, "device"),
      url: l.url,
      ca: l.rootPem,
      bootstrapCert: boot.chainPem,
      bootstrapKey: boot.keyPem,
      deviceId: "cluster-1",
    });
    expect(device.deviceId).toBe("cluster-1");
    const row = await db().device.findUnique({ where: { customerId_deviceId: { customerId: c.customer.id, deviceId: "cluster-1" } } });
    expect(row?.enrolledById).toBe(boot.id);

    await db().certificate.update({ where: { serial: boot.serial }, data: { revokedAt: new Date(), revocationReason: "keyCompromise" } });
    const refused = await est(l, "simpleenroll", boot, "AAAA");
    expect(refused).toMatchObject({ status: 403, code: "cert_revoked" });

    // /metrics in the primary includes the worker's counters: the enrollment and the refusal happened there
    const workers = await cluster.metrics();
    expect(workers).toHaveLength(1);
    const text = await exposition(workers);
    const value = (line: RegExp) =>
      Number(
        text
          .split("\n")
          .find((l) => line.test(l))
          ?.split(" ")
          .at(-1) ?? 0,
      );
    // each series names its process, so a worker missing from one scrape never looks like a counter going down
    expect(value(/^pss_http_requests_total\{listener="device",status="200",process="worker-\d+"\}/)).toBeGreaterThanOrEqual(1);
    expect(value(/^pss_http_requests_total\{listener="device",status="403",process="worker-\d+"\}/)).toBeGreaterThanOrEqual(1);
    expect(value(/^pss_certificates_issued_total\{profile="client-tls",process="worker-\d+"\}/)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^pss_process_cpu_seconds_total\{process="main"\} /m);
  });
});

/** The serial of the certificate the device port presents on a new connection (verified to the root). */
const presentedSerial = () =>
  new Promise<string>((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", servername: "localhost", port: cluster.port, ca: l.rootPem }, () => {
      resolve(s.getPeerCertificate().serialNumber.toLowerCase().replace(/^0+/, ""));
      s.end();
    });
    s.on("error", reject);
  });
let replaced: ListenerTls;

describe("a new listener certificate", () => {
  it("reaches the worker: new connections get it", async () => {
    replaced = await issueListenerTls();
    cluster.replaceTls(replaced);
    await vi.waitFor(async () => expect(await presentedSerial()).toBe(replaced.serial), { timeout: 10_000, interval: 100 });
  });
});

describe("a crashed worker", () => {
  it("is replaced, and the device port serves again, with the newest listener certificate", async () => {
    const [worker] = Object.values(nodeCluster.workers ?? {});
    expect(worker).toBeDefined();
    worker!.process.kill("SIGKILL");
    await vi.waitFor(
      async () => {
        const r = await est(l, "cacerts", null).catch((e) => ({ status: String(e) }));
        expect(r.status).toBe(200);
        expect(Object.values(nodeCluster.workers ?? {}).map((w) => w!.id)).not.toContain(worker!.id);
      },
      // a worker loads its TypeScript through tsx first: seconds on a busy machine
      { timeout: 90_000, interval: 250 },
    );
    expect(await presentedSerial()).toBe(replaced.serial);
  }, 120_000);
});

describe("inheritedArgs", () => {
  it("gives the workers this process's export conditions and heap sizing, nothing else", () => {
    const argv = [
      "--conditions=react-server",
      "-C",
      "x",
      "--max-semi-space-size=64",
      "--inspect",
      "--max-old-space-size=4096",
      "--cpu-prof",
    ];
    expect(inheritedArgs(argv)).toEqual([
      "--conditions=react-server",
      "--conditions=x",
      "--max-semi-space-size=64",
      "--max-old-space-size=4096",
    ]);
  });
});
