// TLS material of the device listener: a fresh key pair at every start (it never touches disk or the
// database) and a server certificate for it from the hierarchy (TLS Intermediate, serverAuth, SAN
// localhost / 127.0.0.1 / ::1 / PSS_DEVICE_HOSTNAMES), so devices trust it through the root alone. A running
// process replaces it (new key, new certificate) before it expires, and within a minute once it is revoked or the
// TLS Intermediate that issued it is no longer the active one (rotated or revoked); the replaced one is revoked
// as superseded.
import { findActiveCa } from "../lib/data/ca/hierarchy.ts";
import { exportCaPem } from "../lib/data/ca/list-cas.ts";
import { issueAndStore } from "../lib/data/certificates/issue-certificate.ts";
import { revokeCertificate } from "../lib/data/revocation/revoke-certificate.ts";
import { db } from "../lib/db/client.ts";
import { env } from "../lib/env.ts";
import { isAppError } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { createCsr } from "../lib/pki/csr.ts";
import { newPrivateKey } from "../lib/pki/keygen.ts";

export type ListenerTls = { key: string; cert: string; ca: string; serial: string };

export async function issueListenerTls(): Promise<ListenerTls> {
  const privateKey = newPrivateKey();
  const extra = env()
    .PSS_DEVICE_HOSTNAMES.split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  const isIp = (h: string) => /^[\d.]+$/.test(h) || h.includes(":");
  const issued = await issueAndStore({
    profile: "server",
    csr: createCsr({ key: privateKey }),
    dnsNames: ["localhost", ...extra.filter((h) => !isIp(h))],
    ipAddresses: ["127.0.0.1", "::1", ...extra.filter(isIp)],
    authorizedBy: "device-listener",
    actor: { type: "system", id: "device-listener" },
  });
  return {
    key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    // leaf + intermediates; the root stays out (clients already have it)
    cert: [issued.pem, ...issued.chainPem.slice(0, -1)].join(""),
    ca: await exportCaPem("root"),
    serial: issued.serialHex,
  };
}

/** Replaced when less than this is left of its year. */
const RENEW_BEFORE_MS = 30 * 86_400_000;
/** How often a running process checks its listener certificate (two small reads). */
export const LISTENER_TLS_CHECK_MS = 60_000;

/** Why the listener's certificate must be replaced now, or null while it is good. */
export async function listenerTlsStale(tls: ListenerTls, now = new Date()): Promise<string | null> {
  const [cert, intermediate] = await Promise.all([
    db().certificate.findUnique({ where: { serial: tls.serial }, select: { issuerId: true, notAfter: true, revokedAt: true } }),
    findActiveCa({ kind: "TLS_INTERMEDIATE" }),
  ]);
  if (!cert) return "its certificate is not in the database";
  if (cert.revokedAt) return "its certificate was revoked";
  if (intermediate?.ca.id !== cert.issuerId) return "the TLS Intermediate that issued it is no longer the active one";
  if (cert.notAfter.getTime() - now.getTime() < RENEW_BEFORE_MS) return "its certificate expires within 30 days";
  return null;
}

/**
 * Checks the listener's certificate every `everyMs` and hands a new one to `apply` when it is stale. A failed
 * check or renewal is logged and tried again at the next check. Returns the function that stops it.
 */
export function keepListenerTlsFresh(
  initial: ListenerTls,
  apply: (tls: ListenerTls) => void,
  { everyMs = LISTENER_TLS_CHECK_MS }: { everyMs?: number } = {},
): () => void {
  let current = initial;
  let running = false;
  const check = async () => {
    if (running) return;
    running = true;
    try {
      const reason = await listenerTlsStale(current);
      if (!reason) return;
      const next = await issueListenerTls();
      apply(next);
      log.info({ reason, previous: current.serial, serial: next.serial }, "replaced the device listener's certificate");
      const previous = current;
      current = next;
      // its key is gone with it: nothing should trust the old certificate any more
      await revokeCertificate({ serial: previous.serial, reason: "superseded", actor: { type: "system", id: "device-listener" } }).catch(
        (e) => {
          if (!(isAppError(e) && (e.code === "already_revoked" || e.code === "certificate_not_found"))) throw e;
        },
      );
    } catch (e) {
      log.error({ err: e instanceof Error ? e.message : String(e) }, "device listener certificate check failed");
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void check(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
