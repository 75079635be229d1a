// The mutual-TLS device listener (SPEC §5). TLS asks every client for a certificate but lets the handshake
// finish without one, so EST /cacerts works for a device that has nothing yet; every other endpoint runs the
// authorizer on every HTTP request (keep-alive and resumed sessions skip the handshake), which insists that
// the TLS layer verified the chain too. TLS 1.2 and 1.3, session resumption on (tickets and session ids),
// time limits on handshakes, requests and idle sockets (est/limits.ts).
import { randomBytes } from "node:crypto";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { supersedeStale } from "../lib/data/devices/authorize.ts";
import { TLS_SESSION_SECONDS } from "../lib/data/devices/presented-chains.ts";
import { log } from "../lib/log.ts";
import type { ListenerTls } from "./device-tls.ts";
import { deviceRequestListener } from "./est/handler.ts";
import { type DeviceLimits, hardenDeviceListener } from "./est/limits.ts";

export const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

export type DeviceListenerOptions = {
  /** 48-byte session ticket keys; share them across workers so any worker resumes any session */
  ticketKeys?: Buffer;
  /** how often the 72-hour supersession sweep runs (0: never; default 10 minutes) */
  sweepMs?: number;
  /** time limits (est/limits.ts); default DEVICE_REQUEST_TIMEOUT_MS */
  limits?: DeviceLimits;
};

export function createDeviceListener(tls: ListenerTls, opts: DeviceListenerOptions = {}): https.Server {
  const server = https.createServer(
    {
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
      ticketKeys: opts.ticketKeys ?? randomBytes(48),
      sessionTimeout: TLS_SESSION_SECONDS,
    },
    deviceRequestListener,
  );
  hardenDeviceListener(server, opts.limits);
  // The authorizer caches the peer chain per connection: a renegotiation must not swap it.
  server.on("secureConnection", (socket: TLSSocket) => socket.disableRenegotiation());
  // TLS 1.2 session-id resumption needs a session cache on the server side.
  const sessions = new Map<string, Buffer>();
  server.on("newSession", (id: Buffer, data: Buffer, cb: () => void) => {
    if (sessions.size > 10_000) sessions.delete(sessions.keys().next().value as string);
    sessions.set(id.toString("hex"), data);
    cb();
  });
  server.on("resumeSession", (id: Buffer, cb: (err: Error | null, data?: Buffer | null) => void) =>
    cb(null, sessions.get(id.toString("hex")) ?? null),
  );

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
