import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { type RevocationReason, revocationReasonSchema } from "../../pki/crl.ts";
import { normalizeSerial } from "../../pki/serial.ts";
import { type Actor, audit } from "../audit/record.ts";
import { markCurrentRevoked } from "../fleet/current-certificate.ts";
import { publishCrlsAfterRevocation } from "./crl.ts";

export type RevokeCertificateInput = {
  serial: string;
  reason?: RevocationReason;
  /** the tenant the caller acts for: another customer's certificate answers 404 */
  customerId?: string | null;
  actor: Actor;
};

/**
 * Revoke one certificate: effective at the device API at once (the authorizer reads the database on every
 * request) and in the issuer's next CRL, which is reissued now.
 */
export async function revokeCertificate(input: RevokeCertificateInput) {
  const serial = normalizeSerial(input.serial);
  const reason = revocationReasonSchema.parse(input.reason ?? "unspecified");
  const cert = await db().certificate.findUnique({
    where: { serial },
    select: { id: true, customerId: true, issuerId: true, revokedAt: true, kind: true },
  });
  if (!cert || (input.customerId !== undefined && input.customerId !== null && cert.customerId !== input.customerId)) {
    throw new AppError("certificate_not_found", "No such certificate.", 404);
  }
  if (cert.revokedAt) throw new AppError("already_revoked", "This certificate is already revoked.", 409);
  const now = new Date();
  const updated = await db().$transaction(async (tx) => {
    // the revokedAt: null condition makes a concurrent second revocation a no-op instead of a rewrite
    const r = await tx.certificate.updateMany({
      where: { id: cert.id, revokedAt: null },
      data: { revokedAt: now, revocationReason: reason },
    });
    if (r.count === 0) throw new AppError("already_revoked", "This certificate is already revoked.", 409);
    // fleet denormalization: a device's current certificate shows as revoked in the fleet at once
    await markCurrentRevoked(tx, { certIds: [cert.id] });
    await audit(tx, input.actor, {
      action: "certificate.revoke",
      customerId: cert.customerId,
      target: `certificate:${serial}`,
      details: { reason, kind: cert.kind },
    });
    return { serial, revokedAt: now, reason };
  });
  await publishCrlsAfterRevocation([cert.issuerId], now);
  return updated;
}
