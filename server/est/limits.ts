// Server-side time limits of the device listener, so a slow or silent client (slowloris) cannot hold sockets:
//   TLS handshake          must complete within requestTimeoutMs of the TCP connection
//   each request           headers and body within requestTimeoutMs (Node answers 408 and closes)
//   idle keep-alive        closed after min(5 s, requestTimeoutMs) without a new request
//   any socket             closed after requestTimeoutMs without a byte either way
//   open connections       at most DEVICE_MAX_CONNECTIONS (default 10,000); more are closed on arrival
// requestTimeoutMs is DEVICE_REQUEST_TIMEOUT_MS (default 30 s) unless the caller gives one (tests).
import type https from "node:https";
import type { Socket } from "node:net";
import { env } from "../../lib/env.ts";

export type DeviceLimits = { requestTimeoutMs?: number; maxConnections?: number };

const KEEP_ALIVE_MAX_MS = 5_000;
const hardened = new WeakSet<https.Server>();

/** Apply the limits to a device listener before it listens (idempotent). */
export function hardenDeviceListener(server: https.Server, limits: DeviceLimits = {}): https.Server {
  if (hardened.has(server)) return server;
  hardened.add(server);
  const ms = limits.requestTimeoutMs ?? env().DEVICE_REQUEST_TIMEOUT_MS;
  server.requestTimeout = ms;
  server.headersTimeout = ms;
  server.keepAliveTimeout = Math.min(KEEP_ALIVE_MAX_MS, ms);
  // Node enforces the two above from a periodic sweep (default every 30 s), started when the server listens:
  // sweep at a quarter of the limit, at most every second. (An option of createServer, not in @types/node as
  // a property, but a plain one read at 'listening'.)
  (server as https.Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
    50,
    Math.min(1_000, Math.floor(ms / 4)),
  );
  server.setTimeout(ms, (socket: Socket) => socket.destroy());
  // beyond this many open connections a new one is closed at once: descriptors stay for the portal and database
  server.maxConnections = limits.maxConnections ?? env().DEVICE_MAX_CONNECTIONS;
  limitHandshakes(server, ms);
  return server;
}

/**
 * A deadline for the TLS handshake (Node's own default is 120 s), counted from the TCP connection. The raw
 * socket is matched to its TLS socket by the remote address and port, unique among open connections.
 */
function limitHandshakes(server: https.Server, ms: number) {
  const pending = new Map<string, NodeJS.Timeout>();
  const keyOf = (s: Socket) => `${s.remoteAddress}|${s.remotePort}`;
  server.on("connection", (raw: Socket) => {
    const key = keyOf(raw);
    const timer = setTimeout(() => {
      pending.delete(key);
      raw.destroy();
    }, ms);
    timer.unref();
    pending.set(key, timer);
    raw.once("close", () => {
      if (pending.get(key) === timer) pending.delete(key);
      clearTimeout(timer);
    });
  });
  server.on("secureConnection", (socket: Socket) => {
    const key = keyOf(socket);
    clearTimeout(pending.get(key));
    pending.delete(key);
  });
}
