// EST (RFC 7030, base64 per RFC 8951) over the mutual-TLS device listener (SPEC §5). Routing, body limits and
// encodings only: the authorizer and the use cases live in lib/data.
//
//   GET  /.well-known/est/cacerts                  (and /<profile>/cacerts)       no client certificate needed
//   POST /.well-known/est/simpleenroll             bootstrapping certificate → Client TLS certificate
//   POST /.well-known/est/simplereenroll           newest Client TLS certificate → rotated one
//   POST /.well-known/est/<profile>/simpleenroll   Client TLS certificate → application certificate
//   POST /.well-known/est/<profile>/simplereenroll Client TLS certificate → renewed application certificate
//   GET  /health                                    liveness (no client certificate needed)
//
// Errors: {"error": {"code", "message"}} with 400 (bad CSR), 401 (no client certificate), 403 (wrong kind,
// revoked, expired, foreign, policy), 404, 405, 409 (device id already enrolled), 413 (body > 64 KiB), 429
// (enrollment attempts of one bootstrapping certificate, with Retry-After). Every refusal of an enrollment
// endpoint but 401 is audited, rate-limited per caller and code (lib/data/enrollment/issue.ts auditRefusal).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { RateLimitedError } from "../../lib/data/api/rate-limit.ts";
import type { IssuedRecord } from "../../lib/data/certificates/issue-certificate.ts";
import { authorizeDevice, type DeviceIdentity } from "../../lib/data/devices/authorize.ts";
import { estCaCerts } from "../../lib/data/enrollment/ca-certs.ts";
import { applicationEnroll, simpleEnroll, simpleReenroll } from "../../lib/data/enrollment/est-enroll.ts";
import { auditRefusal, type RefusedCaller, refusedCertificateOwner } from "../../lib/data/enrollment/issue.ts";
import { AppError } from "../../lib/errors.ts";
import { log } from "../../lib/log.ts";
import { metrics } from "../../lib/metrics.ts";
import { toPem } from "../../lib/pki/der.ts";
import { certsOnly } from "../../lib/pki/pkcs7.ts";

export const MAX_BODY_BYTES = 64 * 1024;
const PREFIX = "/.well-known/est/";
const PKCS7 = "application/pkcs7-mime; smime-type=certs-only";
const PEM_CHAIN = "application/pem-certificate-chain";

/**
 * Every answer has a Content-Length (never chunked) and its header names in their canonical case: libest, the
 * reference EST client, looks up "Content-Type" and "Content-Length" case-sensitively and needs the length.
 */
function send(res: ServerResponse, status: number, body: string | Buffer, headers: Record<string, string>) {
  metrics.httpRequests.inc({ listener: "device", status: String(status) });
  res.writeHead(status, { "Cache-Control": "no-store", "Content-Length": String(Buffer.byteLength(body)), ...headers }).end(body);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}) {
  // an oversized body was not read to its end: close the connection so the answer is not lost behind it
  const close: Record<string, string> = status === 413 ? { Connection: "close" } : {};
  send(res, status, JSON.stringify({ error: { code, message } }), { "Content-Type": "application/json", ...close, ...headers });
}

/** base64 with 64-column lines (RFC 8951 allows line breaks; RFC 7030 clients expect base64). */
function base64Lines(der: Uint8Array): string {
  return toPem("X", der).split("\n").slice(1, -2).join("\r\n").concat("\r\n");
}

function sendPkcs7(res: ServerResponse, certs: Buffer[]) {
  send(res, 200, base64Lines(certsOnly(certs)), { "Content-Type": PKCS7, "Content-Transfer-Encoding": "base64" });
}

// ---- the peer chain --------------------------------------------------------------------------------------

type Peer = { leaf: Buffer | null; presented?: Buffer[] };
const peers = new WeakMap<TLSSocket, Peer>();

/**
 * What the client presented, extracted once per connection (renegotiation is disabled): its certificate at
 * once, the certificates it sent after it only when asked for. Node's full-chain extraction copies and
 * re-decodes every certificate (≈ 0.5 ms per connection), and the path of our own certificates is built from
 * our CA records anyway.
 */
function peerOf(socket: TLSSocket): Peer {
  let peer = peers.get(socket);
  if (!peer) {
    peer = { leaf: socket.getPeerCertificate(false)?.raw ?? null };
    peers.set(socket, peer);
  }
  return peer;
}

const peerLeaf = (socket: TLSSocket): Buffer | null => peerOf(socket).leaf;

/** The certificates the client sent after its leaf on this connection's handshake (none on a resumed session). */
function peerIntermediates(socket: TLSSocket): Buffer[] {
  const peer = peerOf(socket);
  if (peer.presented) return peer.presented;
  const chain: Buffer[] = [];
  let cert = socket.getPeerCertificate(true);
  const seen = new Set<string>();
  while (cert?.raw && chain.length < 12) {
    const fp = cert.fingerprint256;
    if (seen.has(fp)) break;
    seen.add(fp);
    chain.push(cert.raw);
    if (!cert.issuerCertificate || cert.issuerCertificate === cert) break;
    cert = cert.issuerCertificate;
  }
  peer.presented = chain.slice(1);
  return peer.presented;
}

function tlsErrorCode(e: unknown): string | null {
  if (!e) return null;
  if (typeof e === "string") return e;
  return String((e as { code?: string }).code ?? (e as Error).message ?? e);
}

function authorize(req: IncomingMessage) {
  const socket = req.socket as TLSSocket;
  return authorizeDevice({
    leaf: peerLeaf(socket),
    presented: () => peerIntermediates(socket),
    resumed: socket.isSessionReused(),
    tlsAuthorized: socket.authorized,
    tlsError: tlsErrorCode(socket.authorizationError),
  });
}

/**
 * The body, read no further than the limit. Beyond it reading stops without destroying the request, so the 413
 * (with Connection: close) still reaches the client and the refusal is audited like any other.
 */
function readBody(req: IncomingMessage): Promise<Buffer> {
  const tooLarge = () => new AppError("body_too_large", `request bodies are limited to ${MAX_BODY_BYTES} bytes`, 413);
  if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => req.off("data", onData).off("end", onEnd).off("error", onError);
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
      stop();
      req.pause();
      reject(tooLarge());
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks));
    };
    const onError = (e: Error) => {
      stop();
      reject(e);
    };
    req.on("data", onData).on("end", onEnd).on("error", onError);
  });
}

function sendIssued(req: IncomingMessage, res: ServerResponse, issued: IssuedRecord) {
  const accept = String(req.headers.accept ?? "");
  if (accept.includes(PEM_CHAIN)) {
    // the certificate and its chain, issuer first; the root stays out (the device already trusts it)
    return send(res, 200, [issued.pem, ...issued.chainPem.slice(0, -1)].join(""), { "Content-Type": PEM_CHAIN });
  }
  sendPkcs7(res, [issued.der]);
}

// ---- routing ----------------------------------------------------------------------------------------------

export async function handleDeviceRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let path: string;
  try {
    path = new URL(req.url ?? "/", "https://device.invalid").pathname;
  } catch {
    return sendError(res, 400, "bad_request", "the request target is not a valid path");
  }
  if (path === "/health") return send(res, 200, JSON.stringify({ status: "ok" }), { "Content-Type": "application/json" });
  if (!path.startsWith(PREFIX)) return sendError(res, 404, "not_found", "no such endpoint");
  const parts = path.slice(PREFIX.length).split("/");
  const [label, op] = parts.length === 1 ? [undefined, parts[0]] : parts.length === 2 ? [parts[0], parts[1]] : [undefined, ""];
  const method = req.method ?? "GET";

  if (op === "cacerts") {
    if (method !== "GET") return sendError(res, 405, "method_not_allowed", "use GET");
    // an optional client certificate adds the caller's customer's issuing CA
    const socket = req.socket as TLSSocket;
    const identity = peerLeaf(socket) ? await authorize(req).catch(() => null) : null;
    return sendPkcs7(res, await estCaCerts({ profile: label, customerId: identity?.customerId ?? null }));
  }
  if (op !== "simpleenroll" && op !== "simplereenroll") return sendError(res, 404, "not_found", "no such EST operation");
  if (method !== "POST") return sendError(res, 405, "method_not_allowed", "use POST");

  let identity: DeviceIdentity | null = null;
  try {
    identity = await authorize(req);
    const csr = await readBody(req);
    if (csr.length === 0) throw new AppError("csr_malformed", "the request body must be a base64 PKCS#10 request", 400);
    let issued: IssuedRecord;
    if (label !== undefined) issued = await applicationEnroll({ identity, csr, profile: label, renew: op === "simplereenroll" });
    else if (op === "simpleenroll") issued = await simpleEnroll({ identity, csr });
    else issued = await simpleReenroll({ identity, csr });
    sendIssued(req, res, issued);
  } catch (e) {
    // a missing client certificate is not worth a row: anybody can send none
    if (e instanceof AppError && e.status !== 401) {
      const caller = await refusedCaller(req, identity, e.code);
      // SPEC §5: an older certificate re-enrolling is a suspected clone — also once the newer one was used and
      // the older one is revoked as superseded (the authorizer refused it before simpleReenroll could tell)
      const clone = e.code === "clone_suspected" || (label === undefined && op === "simplereenroll" && caller.superseded === true);
      const action = clone ? "clone_suspected" : ACTIONS[`${label === undefined ? "" : "profile/"}${op}`];
      const { superseded: _, ...who } = caller;
      await auditRefusal(action, e, who, identity ? { authenticatedBy: identity.kind } : {});
    }
    throw e;
  }
}

const ACTIONS: Record<string, string> = {
  simpleenroll: "device.enroll",
  simplereenroll: "device.reenroll",
  "profile/simpleenroll": "device.application_enroll",
  "profile/simplereenroll": "device.application_reenroll",
};

/** Who sent a refused request: the authorizer's answer, or (it refused) the owner of the certificate if it is ours. */
async function refusedCaller(req: IncomingMessage, identity: DeviceIdentity | null, code: string): Promise<RefusedCaller> {
  const ip = req.socket?.remoteAddress ?? null;
  if (identity)
    return { serial: identity.serial, customerId: identity.customerId, groupId: identity.via === "group" ? identity.groupId : null, ip };
  const leaf = peerLeaf(req.socket as TLSSocket);
  return { ...(leaf ? await refusedCertificateOwner(leaf, code) : { serial: null, customerId: null }), ip };
}

/** The request listener: every known refusal becomes its status and code; anything else a logged 500. */
export function deviceRequestListener(req: IncomingMessage, res: ServerResponse): void {
  handleDeviceRequest(req, res).catch((e) => {
    if (res.headersSent) return void res.destroy();
    if (e instanceof AppError) {
      metrics.refusals.inc({ code: e.code });
      const headers: Record<string, string> = e instanceof RateLimitedError ? { "Retry-After": String(e.retryAfterSeconds) } : {};
      return sendError(res, e.status >= 400 && e.status < 600 ? e.status : 400, e.code, e.message, headers);
    }
    log.error({ err: e, url: req.url }, "device request failed");
    sendError(res, 500, "internal_error", "internal error");
  });
}
