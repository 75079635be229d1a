// One device-listener worker of server/device-cluster.ts: waits for its configuration from the primary,
// connects to the primary's database target, listens on the shared port. "stop" closes it.
import cluster from "node:cluster";
import type { AddressInfo } from "node:net";
import { closeDb, openDatabase } from "../lib/db/client.ts";
import { overrideEnv } from "../lib/env.ts";
import { log } from "../lib/log.ts";
import { processMetrics } from "../lib/metrics.ts";
import type { WorkerConfig } from "./device-cluster.ts";
import { createDeviceListener } from "./device-listener.ts";

type FromPrimary = { type: "start"; config: WorkerConfig } | { type: "stop" } | { type: "metrics"; id: number };

let server: ReturnType<typeof createDeviceListener> | undefined;

async function stop() {
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((r) => server?.close(() => r()));
  }
  await closeDb();
  process.exit(0);
}

process.on("message", (m: FromPrimary) => {
  if (m.type === "stop") return void stop();
  // the primary serves /metrics for the whole product: this worker's device-listener counters go to it
  if (m.type === "metrics")
    return void processMetrics(`worker-${cluster.worker?.id ?? process.pid}`)
      .then((json) => process.send?.({ type: "metrics", id: m.id, metrics: json }))
      .catch((err) => log.error({ err }, "metrics for the primary failed"));
  if (m.type !== "start" || server) return;
  const c = m.config;
  if (c.settings) overrideEnv(c.settings);
  openDatabase(c.target);
  const listener = createDeviceListener(c.tls, { ticketKeys: Buffer.from(c.ticketKeys, "base64"), sweepMs: c.sweepMs });
  server = listener;
  listener.once("error", (e: NodeJS.ErrnoException) =>
    process.send?.({
      type: "error",
      message:
        e.code === "EADDRINUSE" ? `port ${c.port} (DEVICE_PORT) is already in use` : `cannot listen on ${c.host}:${c.port}: ${e.message}`,
    }),
  );
  listener.listen(c.port, c.host, () => {
    listener.on("error", (e) => log.error({ err: e.message }, "device listener error"));
    process.send?.({ type: "listening", port: (listener.address() as AddressInfo).port });
  });
});
process.send?.({ type: "ready" });
// the primary went away: nothing left to serve for
process.on("disconnect", () => {
  log.warn("device worker lost its primary; stopping");
  void stop();
});
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => {}); // the primary handles Ctrl-C and stops us in order
