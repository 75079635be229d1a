import "server-only";
import { db, type Tx } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import type { RevocationReason } from "../../pki/crl.ts";
import { DEVICE_ID_PATTERN } from "../../pki/names.ts";
import { normalizeSerial } from "../../pki/serial.ts";
import { isUuid } from "../../validations/common.ts";
import { type Actor, audit } from "../audit/record.ts";
import { publishCrlsAfterRevocation } from "../revocation/crl.ts";
import { markCurrentRevoked } from "./current-certificate.ts";

/** A device by its row id (the portal) or by its device id within the caller's customer (the API). */
type DeviceKey = { deviceRef: string } | { deviceId: string };
type DeviceInput = DeviceKey & { customerId: string | null; reason: RevocationReason; actor: Actor };

const DEVICE = { id: true, deviceId: true, customerId: true, status: true, resetAt: true, enrolledById: true } as const;

/**
 * The device, in the caller's customer (another customer's device is a 404), or in any for staff. A key of the
 * wrong form (from a URL: the API's {deviceId}) names no device, and is not looked up: the database would refuse it.
 */
async function findDevice(input: DeviceInput) {
  const tenant = input.customerId ? { customerId: input.customerId } : {};
  const device =
    "deviceRef" in input
      ? isUuid(input.deviceRef)
        ? await db().device.findFirst({ where: { id: input.deviceRef, ...tenant }, select: DEVICE })
        : null
      : input.customerId && DEVICE_ID_PATTERN.test(input.deviceId)
        ? await db().device.findUnique({
            where: { customerId_deviceId: { customerId: input.customerId, deviceId: input.deviceId } },
            select: DEVICE,
          })
        : null;
  if (!device) throw new AppError("device_not_found", "No such device.", 404);
  return device;
}
/**
 * Revoke every live certificate the device holds, in every PKI, inside the caller's transaction — after the
 * caller updated the device row: an issuance for this device holds a share lock on that row until it commits, so
 * what it stored is revoked here, and one that comes later sees the row as the caller left it.
 */
async function revokeHeld(tx: Tx, deviceRef: string, reason: RevocationReason, now: Date) {
  const live = await tx.certificate.findMany({ where: { deviceRef, revokedAt: null }, select: { issuerId: true } });
  const r = await tx.certificate.updateMany({ where: { deviceRef, revokedAt: null }, data: { revokedAt: now, revocationReason: reason } });
  await markCurrentRevoked(tx, { deviceRef }); // fleet denormalization
  return { issuers: [...new Set(live.map((c) => c.issuerId))], revoked: r.count };
}

/**
 * Decommission a device (SPEC §6): every certificate it holds, in every PKI, is revoked and the device is
 * marked decommissioned — one transaction with its audit event; the issuers' CRLs are reissued right after.
 */
export async function decommissionDevice(input: DeviceInput) {
  const device = await findDevice(input);
  const already = () => new AppError("already_decommissioned", "This device is already decommissioned.", 409);
  if (device.status === "DECOMMISSIONED") throw already();
  const now = new Date();
  const { issuers, revoked } = await db().$transaction(async (tx) => {
    const u = await tx.device.updateMany({
      where: { id: device.id, status: "ACTIVE" },
      // a pending reset ends with the device: a decommissioned device enrolls no more until reset again
      data: { status: "DECOMMISSIONED", decommissionedAt: now, resetAt: null, resetFor: null, resetOpen: false },
    });
    if (u.count === 0) throw already();
    const held = await revokeHeld(tx, device.id, input.reason, now);
    await audit(tx, input.actor, {
      action: "device.decommission",
      customerId: device.customerId,
      target: `device:${device.deviceId}`,
      details: { reason: input.reason, certificatesRevoked: held.revoked },
    });
    return held;
  });
  await publishCrlsAfterRevocation(issuers, now);
  return { deviceId: device.deviceId, certificatesRevoked: revoked };
}

/**
 * The bootstrapping certificate the admin names for a reset device's re-enrollment: the customer's, neither revoked,
 * quarantined nor expired (another customer's answers like an unknown one).
 */
async function namedCredential(customerId: string, serial: string, now: Date): Promise<string> {
  let normalized: string;
  try {
    normalized = normalizeSerial(serial);
  } catch {
    throw new AppError("serial_invalid", "bootstrapSerial: not a certificate serial", 400);
  }
  const cert = await db().certificate.findUnique({
    where: { serial: normalized },
    select: { id: true, customerId: true, kind: true, revokedAt: true, quarantinedAt: true, notAfter: true },
  });
  if (!cert || cert.customerId !== customerId || cert.kind !== "BOOTSTRAP")
    throw new AppError("certificate_not_found", "No such bootstrapping certificate.", 404);
  if (cert.revokedAt || cert.quarantinedAt || cert.notAfter <= now)
    throw new AppError("bootstrap_unusable", "This bootstrapping certificate is revoked, quarantined or expired.", 409);
  return cert.id;
}

/**
 * Reset a device id (SPEC §5: an id that has held a certificate answers simpleenroll with 409 "until an admin
 * resets it"): for a device that lost the answer to its first enrollment, was re-flashed, or is suspected cloned.
 * Every certificate it holds is revoked (the clone's too) and its next simpleenroll re-enrolls the same device, once
 * (Device.resetAt) — with the bootstrapping certificate that enrolled it (its enrollment group, for a maker's device),
 * or the one the admin names (`bootstrapSerial`: the original was revoked, say), never any other credential of the
 * customer: a clone holding another production line's key cannot claim the id. A decommissioned device is
 * recommissioned this way. One transaction with its audit event; the issuers' CRLs are reissued right after.
 */
export async function resetDevice(input: DeviceInput & { bootstrapSerial?: string }) {
  const device = await findDevice(input);
  const already = () =>
    new AppError(
      "already_reset",
      "This device id is already reset: its next enrollment re-enrolls it (name a bootstrapping certificate to change which).",
      409,
    );
  const now = new Date();
  const resetFor = input.bootstrapSerial ? await namedCredential(device.customerId, input.bootstrapSerial, now) : device.enrolledById;
  if (device.resetAt) {
    // a pending reset (an admin's, or a CA revocation's) gets the credential the admin names now
    if (!input.bootstrapSerial) throw already();
    return repointReset(device, resetFor, input, now);
  }
  const { issuers, revoked } = await db().$transaction(async (tx) => {
    const u = await tx.device.updateMany({
      where: { id: device.id, resetAt: null },
      data: { resetAt: now, resetFor, resetOpen: false, status: "ACTIVE", decommissionedAt: null },
    });
    if (u.count === 0) throw already();
    const held = await revokeHeld(tx, device.id, input.reason, now);
    await audit(tx, input.actor, {
      action: "device.reset",
      customerId: device.customerId,
      target: `device:${device.deviceId}`,
      details: {
        reason: input.reason,
        certificatesRevoked: held.revoked,
        wasDecommissioned: device.status === "DECOMMISSIONED",
        reenrollWith: resetFor ? `bootstrap:${resetFor}` : "enrollment group",
      },
    });
    return held;
  });
  await publishCrlsAfterRevocation(issuers, now);
  return { deviceId: device.deviceId, certificatesRevoked: revoked };
}

/** A pending reset re-enrolls with another bootstrapping certificate; nothing is left to revoke. */
async function repointReset(
  device: { id: string; deviceId: string; customerId: string },
  resetFor: string | null,
  input: DeviceInput,
  now: Date,
) {
  await db().$transaction(async (tx) => {
    const u = await tx.device.updateMany({
      where: { id: device.id, resetAt: { not: null } },
      data: { resetFor, resetOpen: false },
    });
    // the device re-enrolled meanwhile: this is a new reset, not a change of the pending one
    if (u.count === 0) throw new AppError("not_reset", "The device re-enrolled meanwhile: reset it again.", 409);
    await audit(tx, input.actor, {
      action: "device.reset",
      customerId: device.customerId,
      target: `device:${device.deviceId}`,
      details: {
        reason: input.reason,
        certificatesRevoked: 0,
        repointed: true,
        reenrollWith: `bootstrap:${resetFor}`,
        at: now.toISOString(),
      },
    });
  });
  return { deviceId: device.deviceId, certificatesRevoked: 0 };
}
