// The mutual-TLS device listener (SPEC §5). TLS asks every client for a certificate chained to the
// hierarchy's root; the authorizer runs again on every HTTP request (keep-alive and resumed sessions
// skip the handshake).

import type { IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { metrics } from "../lib/metrics.ts";
import type { ListenerTls } from "./device-tls.ts";

function send(res: ServerResponse, status: number, body: unknown) {
  metrics.httpRequests.inc({ listener: "device", status: String(status) });
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const socket = req.socket as TLSSocket;
  const url = new URL(req.url ?? "/", "https://device.invalid");
  if (url.pathname === "/health") {
    if (!socket.authorized)
      return send(res, 401, { error: { code: "client_certificate_required", message: "a client certificate is required" } });
    const peer = socket.getPeerCertificate();
    return send(res, 200, {
      status: "ok",
      client: { subject: peer.subject?.CN ?? null, serial: peer.serialNumber?.toLowerCase() ?? null },
    });
  }
  return send(res, 404, { error: { code: "not_found", message: "no such endpoint" } });
}

export function createDeviceListener(tls: ListenerTls): https.Server {
  return https.createServer(
    {
      key: tls.key,
      cert: tls.cert,
      ca: tls.ca,
      requestCert: true,
      // A handshake without a valid client chain fails; EST's /cacerts (no client cert) arrives with the EST issue.
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
    },
    (req, res) => {
      handle(req, res).catch(() => send(res, 500, { error: { code: "internal_error", message: "internal error" } }));
    },
  );
}
