import { Prisma } from "../../../generated/prisma/client.ts";
import type { Tx } from "../../db/client.ts";

/** Which revoked certificates to mirror: by id, every one a CA issued, or every one a device holds. */
export type RevokedCertificates = { certIds: string[] } | { issuerId: string } | { deviceRef: string };

/**
 * Fleet denormalization (schema.prisma, Device.current*): after Certificate.revokedAt was set, copy it onto
 * the devices whose *current* Client TLS certificate it is, in the same transaction. Call it wherever
 * certificates are revoked; a certificate that is not some device's current one changes nothing.
 */
export async function markCurrentRevoked(tx: Tx, which: RevokedCertificates): Promise<number> {
  const cond =
    "certIds" in which
      ? Prisma.sql`c.id = ANY(${which.certIds}::uuid[])`
      : "issuerId" in which
        ? Prisma.sql`c."issuerId" = ${which.issuerId}::uuid`
        : Prisma.sql`c."deviceRef" = ${which.deviceRef}::uuid`;
  if ("certIds" in which && which.certIds.length === 0) return 0;
  return tx.$executeRaw`UPDATE "Device" d SET "currentRevokedAt" = c."revokedAt"
    FROM "Certificate" c
    WHERE d."currentCertId" = c.id AND c.kind = 'CLIENT_TLS' AND c."revokedAt" IS NOT NULL AND d."currentRevokedAt" IS NULL AND ${cond}`;
}
