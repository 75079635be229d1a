import "server-only";
import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import type { RevocationReason } from "../../pki/crl.ts";
import { type Actor, audit } from "../audit/record.ts";
import { publishCrl } from "../revocation/crl.ts";
import { markCurrentRevoked } from "./current-certificate.ts";

/**
 * Decommission a device (SPEC §6): every certificate it holds, in every PKI, is revoked and the device is
 * marked decommissioned — one transaction with its audit event; the issuers' CRLs are reissued right after.
 */
export async function decommissionDevice(input: { deviceRef: string; customerId: string | null; reason: RevocationReason; actor: Actor }) {
  const device = await db().device.findFirst({
    where: input.customerId ? { id: input.deviceRef, customerId: input.customerId } : { id: input.deviceRef },
    select: { id: true, deviceId: true, customerId: true, status: true },
  });
  if (!device) throw new AppError("device_not_found", "No such device.", 404);
  if (device.status === "DECOMMISSIONED") throw new AppError("already_decommissioned", "This device is already decommissioned.", 409);
  const now = new Date();
  const { issuers, revoked } = await db().$transaction(async (tx) => {
    // the device row first: an issuance for this device holds a share lock on it until it commits, so what it
    // stored is revoked below; one that comes later finds the device decommissioned
    const u = await tx.device.updateMany({
      where: { id: device.id, status: "ACTIVE" },
      data: { status: "DECOMMISSIONED", decommissionedAt: now },
    });
    if (u.count === 0) throw new AppError("already_decommissioned", "This device is already decommissioned.", 409);
    const live = await tx.certificate.findMany({ where: { deviceRef: device.id, revokedAt: null }, select: { issuerId: true } });
    const r = await tx.certificate.updateMany({
      where: { deviceRef: device.id, revokedAt: null },
      data: { revokedAt: now, revocationReason: input.reason },
    });
    await markCurrentRevoked(tx, { deviceRef: device.id }); // fleet denormalization
    await audit(tx, input.actor, {
      action: "device.decommission",
      customerId: device.customerId,
      target: `device:${device.deviceId}`,
      details: { reason: input.reason, certificatesRevoked: r.count },
    });
    return { issuers: [...new Set(live.map((c) => c.issuerId))], revoked: r.count };
  });
  for (const id of issuers) await publishCrl(id, now);
  return { deviceId: device.deviceId, certificatesRevoked: revoked };
}
