// The answer to a leaked bootstrapping key (SPEC §4): revoke the bootstrapping certificate and, optionally,
// every Client TLS certificate it enrolled at or after a moment, with the application certificates (c2pa) of
// those same devices — in one transaction, then fresh CRLs.
import { ADMIN_TX_MAX_WAIT, db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import type { RevocationReason } from "../../pki/crl.ts";
import { normalizeSerial } from "../../pki/serial.ts";
import { type Actor, audit } from "../audit/record.ts";
import { markCurrentRevoked } from "../fleet/current-certificate.ts";
import { publishCrlsAfterRevocation } from "./crl.ts";

export type RevokeBootstrapInput = {
  serial: string;
  reason: RevocationReason;
  /**
   * also revoke the Client TLS certificates of devices this certificate enrolled at or after this time, and those
   * devices' application certificates: a device id an attacker enrolled with the leaked key must not keep signing
   */
  alsoRevokeDevicesEnrolledAfter?: Date;
  customerId: string;
  actor: Actor;
};

export async function revokeBootstrapCertificate(input: RevokeBootstrapInput) {
  const serial = normalizeSerial(input.serial);
  const cert = await db().certificate.findUnique({
    where: { serial },
    select: { id: true, customerId: true, kind: true, issuerId: true, revokedAt: true },
  });
  if (!cert || cert.customerId !== input.customerId || cert.kind !== "BOOTSTRAP")
    throw new AppError("certificate_not_found", "No such bootstrapping certificate.", 404);
  const after = input.alsoRevokeDevicesEnrolledAfter;
  if (cert.revokedAt && !after) throw new AppError("already_revoked", "This certificate is already revoked.", 409);
  const now = new Date();
  const result = await db().$transaction(
    async (tx) => {
      const own = await tx.certificate.updateMany({
        where: { id: cert.id, revokedAt: null },
        data: { revokedAt: now, revocationReason: input.reason },
      });
      let victims: { id: string; serial: string; issuerId: string; deviceRef: string | null }[] = [];
      let applications: { id: string; serial: string; issuerId: string }[] = [];
      if (after) {
        // Lock the devices it enrolled first. A rotation in flight holds its device row FOR UPDATE until it commits:
        // waiting for it here, its new certificate is committed when the read below runs (READ COMMITTED: a fresh
        // snapshot per statement) and is revoked with the rest; a rotation that starts later waits for this
        // transaction and then finds its Client TLS certificate revoked. Without the lock, a certificate committed
        // between the read and the update stayed valid. (The revocation above already waited for this key's own
        // enrollments in flight: they hold it FOR SHARE.)
        await tx.$queryRaw`
        SELECT d.id FROM "Device" d
        WHERE d."customerId" = ${input.customerId}::uuid
          AND ((d."enrolledById" = ${cert.id}::uuid AND d."enrolledAt" >= ${after})
            OR d.id IN (SELECT c."deviceRef" FROM "Certificate" c
                        WHERE c."authorizedBy" = ${`bootstrap:${serial}`} AND c.kind = 'CLIENT_TLS' AND c."createdAt" >= ${after}))
        ORDER BY d.id FOR UPDATE OF d`;
        victims = await tx.certificate.findMany({
          where: {
            customerId: input.customerId,
            kind: "CLIENT_TLS",
            revokedAt: null,
            OR: [
              { authorizedBy: `bootstrap:${serial}`, createdAt: { gte: after } },
              { device: { enrolledById: cert.id, enrolledAt: { gte: after } } },
            ],
          },
          select: { id: true, serial: true, issuerId: true, deviceRef: true },
        });
        if (victims.length) {
          await tx.certificate.updateMany({
            where: { id: { in: victims.map((v) => v.id) }, revokedAt: null },
            data: { revokedAt: now, revocationReason: input.reason },
          });
          // fleet denormalization: the devices whose current certificate this was show as revoked
          await markCurrentRevoked(tx, { certIds: victims.map((v) => v.id) });
          // Those devices' application certificates. Read after the update above: an application enrollment holds a
          // share lock on the Client TLS certificate it authenticated with until it commits, so one in flight has
          // committed (and is found here) or re-reads that certificate as revoked and stores nothing.
          const devices = [...new Set(victims.flatMap((v) => (v.deviceRef ? [v.deviceRef] : [])))];
          applications = await tx.certificate.findMany({
            where: { customerId: input.customerId, kind: "APPLICATION", deviceRef: { in: devices }, revokedAt: null },
            select: { id: true, serial: true, issuerId: true },
          });
          if (applications.length)
            await tx.certificate.updateMany({
              where: { id: { in: applications.map((a) => a.id) }, revokedAt: null },
              data: { revokedAt: now, revocationReason: input.reason },
            });
        }
      }
      await audit(tx, input.actor, {
        action: "certificate.revoke",
        customerId: input.customerId,
        target: `certificate:${serial}`,
        details: {
          reason: input.reason,
          kind: "BOOTSTRAP",
          alreadyRevoked: own.count === 0,
          alsoRevokeDevicesEnrolledAfter: after?.toISOString() ?? null,
          clientTlsRevoked: victims.length,
          applicationRevoked: applications.length,
        },
      });
      return { alreadyRevoked: own.count === 0, victims, applications };
      // an operator's answer to a leaked key: it may wait behind other operators' transactions and the rotations
      // in flight, and a fleet's worth of devices takes longer than Prisma's 5 s default
    },
    { maxWait: ADMIN_TX_MAX_WAIT, timeout: 60_000 },
  );
  const issuers = new Set([cert.issuerId, ...[...result.victims, ...result.applications].map((v) => v.issuerId)]);
  await publishCrlsAfterRevocation(issuers, now);
  return {
    serial,
    revokedAt: (cert.revokedAt ?? now).toISOString(),
    reason: input.reason,
    alreadyRevoked: result.alreadyRevoked,
    revokedClientTlsSerials: result.victims.map((v) => v.serial),
    /** the application certificates (c2pa) of the devices whose Client TLS certificates this call revoked */
    revokedApplicationSerials: result.applications.map((a) => a.serial),
  };
}
