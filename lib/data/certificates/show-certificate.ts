import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { toPem } from "../../pki/der.ts";
import { normalizeSerial } from "../../pki/serial.ts";

/** One certificate by serial (any case, leading zeros ignored), scoped to a customer when given. */
export async function showCertificate(serialInput: string, customerId?: string | null) {
  const serial = normalizeSerial(serialInput);
  const cert = await db().certificate.findUnique({
    where: { serial },
    include: { issuer: { select: { id: true, subject: true } }, device: { select: { deviceId: true } } },
  });
  if (!cert || (customerId != null && cert.customerId !== customerId))
    throw new AppError("certificate_not_found", "No such certificate.", 404);
  const now = new Date();
  return {
    serial: cert.serial,
    kind: cert.kind,
    profile: cert.profile,
    subject: cert.subject,
    uid: cert.uid,
    deviceId: cert.device?.deviceId ?? null,
    issuer: { id: cert.issuer.id, subject: cert.issuer.subject },
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    status: cert.revokedAt ? "revoked" : cert.notAfter < now ? "expired" : "active",
    revokedAt: cert.revokedAt?.toISOString() ?? null,
    revocationReason: cert.revocationReason,
    pem: toPem("CERTIFICATE", cert.der),
  };
}
