// The mutual-TLS device listener (SPEC §5). TLS asks every client for a certificate but lets the handshake
// finish without one, so EST /cacerts works for a device that has nothing yet; every other endpoint runs the
// authorizer on every HTTP request (keep-alive and resumed sessions skip the handshake), which insists that
// the TLS layer verified the chain too. TLS 1.2 and 1.3, session resumption on (tickets, their keys rotated
// hourly, and session ids),
// time limits on handshakes, requests and idle sockets, and caps on open connections, overall and per client
// address (est/limits.ts).
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { supersedeStale } from "../lib/data/devices/authorize.ts";
import { TLS_SESSION_SECONDS } from "../lib/data/devices/presented-chains.ts";
import { log } from "../lib/log.ts";
import type { ListenerTls } from "./device-tls.ts";
import { deviceRequestListener } from "./est/handler.ts";
import { type DeviceLimits, hardenDeviceListener } from "./est/limits.ts";
import { rotateTicketKeys, TicketKeyRatchet } from "./ticket-keys.ts";

export const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

export type DeviceListenerOptions = {
  /** the session ticket keys' ratchet (ticket-keys.ts): workers share one, so any worker resumes any session */
  tickets?: TicketKeyRatchet;
  /** how often the 72-hour supersession sweep runs (0: never; default 10 minutes) */
  sweepMs?: number;
  /** time limits and connection caps (est/limits.ts); default the DEVICE_* settings */
  limits?: DeviceLimits;
};

/** The TLS settings of the listener for its key and certificate (at creation, and when the certificate is replaced). */
function secureOptions(tls: ListenerTls) {
  return {
    key: tls.key,
    cert: tls.cert,
    ca: tls.ca,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: "TLSv1.2",
    maxVersion: "TLSv1.3",
    // TLS 1.2: forward-secret AEAD suites only (no CBC, CCM8 or ARIA); TLS 1.3 suites are all AEAD already
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
    sessionIdContext: "pss-device-listener",
    sessionTimeout: TLS_SESSION_SECONDS,
  } as const;
}

const ratchets = new WeakMap<https.Server, TicketKeyRatchet>();

export function createDeviceListener(tls: ListenerTls, opts: DeviceListenerOptions = {}): https.Server {
  const server = https.createServer(secureOptions(tls), deviceRequestListener);
  const tickets = opts.tickets ?? new TicketKeyRatchet();
  ratchets.set(server, tickets);
  rotateTicketKeys(server, tickets);
  hardenDeviceListener(server, opts.limits);
  // The authorizer caches the peer chain per connection: a renegotiation must not swap it.
  server.on("secureConnection", (socket: TLSSocket) => socket.disableRenegotiation());
  // TLS 1.2 session-id resumption needs a session cache on the server side. Its entries hold the sessions' master
  // secrets: none is kept past the session lifetime (oldest first, so the expired ones are at the front).
  const sessions = new Map<string, { data: Buffer; until: number }>();
  const expire = (now: number) => {
    for (const [key, s] of sessions) {
      if (s.until > now && sessions.size <= 10_000) break;
      sessions.delete(key);
    }
  };
  server.on("newSession", (id: Buffer, data: Buffer, cb: () => void) => {
    const now = Date.now();
    expire(now);
    sessions.set(id.toString("hex"), { data, until: now + TLS_SESSION_SECONDS * 1000 });
    cb();
  });
  server.on("resumeSession", (id: Buffer, cb: (err: Error | null, data?: Buffer | null) => void) => {
    expire(Date.now());
    cb(null, sessions.get(id.toString("hex"))?.data ?? null);
  });

  const sweepMs = opts.sweepMs ?? 10 * 60_000;
  let timer: NodeJS.Timeout | undefined;
  if (sweepMs > 0) {
    server.on("listening", () => {
      timer = setInterval(() => {
        supersedeStale().catch((e) => log.error({ err: e }, "supersession sweep failed"));
      }, sweepMs);
      timer.unref();
    });
    server.on("close", () => clearInterval(timer));
  }
  return server;
}

/**
 * A new key and certificate for a running listener (device-tls.ts keepListenerTlsFresh): new connections get
 * them, open ones keep theirs, and sessions resume as before (the ticket keys stay those of the period).
 */
export function replaceListenerTls(server: https.Server, tls: ListenerTls): void {
  server.setSecureContext(secureOptions(tls));
  const tickets = ratchets.get(server);
  if (tickets) server.setTicketKeys(tickets.keysAt());
}
