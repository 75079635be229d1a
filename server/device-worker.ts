// One device-listener worker of server/device-cluster.ts: waits for its configuration from the primary,
// connects to the primary's database target, listens on the shared port. "stop" closes it.
import cluster from "node:cluster";
import type { AddressInfo } from "node:net";
import { closeDb, openDatabase } from "../lib/db/client.ts";
import { overrideEnv } from "../lib/env.ts";
import { log } from "../lib/log.ts";
import { processMetrics } from "../lib/metrics.ts";
import type { WorkerConfig } from "./device-cluster.ts";
import { createDeviceListener, replaceListenerTls } from "./device-listener.ts";
import type { ListenerTls } from "./device-tls.ts";
import { TicketKeyRatchet } from "./ticket-keys.ts";

type FromPrimary =
  | { type: "start"; config: WorkerConfig }
  | { type: "tls"; tls: ListenerTls }
  | { type: "stop" }
  | { type: "metrics"; id: number };

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
  // the primary replaced the listener's certificate (device-tls.ts keepListenerTlsFresh)
  if (m.type === "tls") return void (server && replaceListenerTls(server, m.tls));
  // the primary serves /metrics for the whole product: this worker's device-listener counters go to it
  if (m.type === "metrics")
    return void processMetrics(`worker-${cluster.worker?.id ?? process.pid}`)
      .then((json) => process.send?.({ type: "metrics", id: m.id, metrics: json }))
      .catch((err) => log.error({ err }, "metrics for the primary failed"));
  if (m.type !== "start" || server) return;
  const { tls, tickets, target, port, host, sweepMs, settings } = m.config;
  if (settings) overrideEnv(settings);
  openDatabase(target);
  // the ticket state goes into the ratchet and nowhere else: no closure keeps the fork's state alive
  const listener = createDeviceListener(tls, { tickets: new TicketKeyRatchet(tickets), sweepMs });
  server = listener;
  listener.once("error", (e: NodeJS.ErrnoException) =>
    process.send?.({
      type: "error",
      message: e.code === "EADDRINUSE" ? `port ${port} (DEVICE_PORT) is already in use` : `cannot listen on ${host}:${port}: ${e.message}`,
    }),
  );
  listener.listen(port, host, () => {
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
