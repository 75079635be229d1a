// Server-side limits of the device listener, so a slow or silent client (slowloris) cannot hold sockets:
//   TLS handshake          must complete within handshakeTimeoutMs of the TCP connection
//   each request           headers and body within requestTimeoutMs (Node answers 408 and closes)
//   idle keep-alive        closed after min(5 s, requestTimeoutMs) without a new request
//   any socket             closed after requestTimeoutMs without a byte either way
//   open connections       at most DEVICE_MAX_CONNECTIONS (default 10,000); more are closed on arrival
//   per client address     at most DEVICE_MAX_CONNECTIONS_PER_ADDRESS (default 1,000; IPv6 by /64); more are
//                          closed on arrival, so one host cannot take the whole listener
// requestTimeoutMs is DEVICE_REQUEST_TIMEOUT_MS (default 30 s), handshakeTimeoutMs DEVICE_HANDSHAKE_TIMEOUT_MS
// (default 10 s, never more than requestTimeoutMs), unless the caller gives them (tests). A connection that sends
// nothing needs no certificate: the handshake deadline is what it costs to hold a socket, hence shorter.
// Connections closed by a cap count in pss_refusals_total (device_connection_limit, device_address_connection_limit).
import type https from "node:https";
import type { Socket } from "node:net";
import { clientKey } from "../../lib/data/api/rate-limit.ts";
import { env } from "../../lib/env.ts";
import { metrics } from "../../lib/metrics.ts";

export type DeviceLimits = {
  requestTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  maxConnections?: number;
  /** 0: no per-address cap */
  maxConnectionsPerAddress?: number;
};

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
  server.on("drop", () => metrics.refusals.inc({ code: "device_connection_limit" }));
  limitPerAddress(server, limits.maxConnectionsPerAddress ?? env().DEVICE_MAX_CONNECTIONS_PER_ADDRESS);
  limitHandshakes(server, Math.min(limits.handshakeTimeoutMs ?? env().DEVICE_HANDSHAKE_TIMEOUT_MS, ms));
  return server;
}

/**
 * At most `cap` open connections per client address, counted from the TCP connection to its close; one more is
 * closed at once, before its handshake. An address is keyed as the rate limits key a caller: IPv4 as is, IPv6 by
 * its /64 (one subscriber usually holds a /64). Registered before limitHandshakes, which skips what it closed.
 */
function limitPerAddress(server: https.Server, cap: number) {
  if (cap <= 0) return;
  const open = new Map<string, number>();
  server.on("connection", (raw: Socket) => {
    // no address: the peer is gone already (its socket closes without our count)
    if (!raw.remoteAddress) return;
    const key = clientKey(raw.remoteAddress);
    const n = open.get(key) ?? 0;
    if (n >= cap) {
      metrics.refusals.inc({ code: "device_address_connection_limit" });
      raw.destroy();
      return;
    }
    open.set(key, n + 1);
    raw.once("close", () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left > 0) open.set(key, left);
      else open.delete(key);
    });
  });
}

/**
 * A deadline for the TLS handshake, counted from the TCP connection (Node's own, the handshakeTimeout option, is
 * 120 s by default and an idle timeout: a byte now and then would keep the socket). The raw socket is matched to
 * its TLS socket by the remote address and port, unique among open connections.
 */
function limitHandshakes(server: https.Server, ms: number) {
  const pending = new Map<string, NodeJS.Timeout>();
  const keyOf = (s: Socket) => `${s.remoteAddress}|${s.remotePort}`;
  server.on("connection", (raw: Socket) => {
    if (raw.destroyed) return;
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
