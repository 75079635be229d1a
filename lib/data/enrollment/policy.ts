// Enrollment policy (SPEC §5): the customer-wide policy and a bootstrapping certificate's own policy both
// apply. Deny-lists add up; every non-empty allow-list must name the device; the certificate's budget fields
// override the customer's defaults; a one-time secret is required when either policy says so, and always
// checked when one is registered for the device.
import { db, type Tx } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { type Actor, audit } from "../audit/record.ts";
import { clientSecretMatches } from "../clients/secrets.ts";

export type EffectivePolicy = {
  allowLists: string[][];
  deny: Set<string>;
  maxEnrollments: number | null;
  enrollUntil: Date | null;
  requireDeviceSecret: boolean;
};

const forbidden = (code: string, message: string) => new AppError(code, message, 403);

export type PolicyRow = {
  bootstrapCertId: string | null;
  allowDeviceIds: string[];
  denyDeviceIds: string[];
  maxEnrollments: number | null;
  enrollUntil: Date | null;
  requireDeviceSecret: boolean;
};

export async function effectivePolicy(customerId: string, bootstrapCertId: string | null): Promise<EffectivePolicy> {
  const rows = await db().enrollmentPolicy.findMany({
    where: { customerId, OR: [{ bootstrapCertId: null }, ...(bootstrapCertId ? [{ bootstrapCertId }] : [])] },
  });
  return policyFromRows(rows);
}

/** The customer-wide row (bootstrapCertId null) and the bootstrapping certificate's own row combined. */
export function policyFromRows(rows: PolicyRow[]): EffectivePolicy {
  const customer = rows.find((r) => r.bootstrapCertId === null);
  const cert = rows.find((r) => r.bootstrapCertId !== null);
  const both = [customer, cert].filter((r) => r !== undefined);
  return {
    allowLists: both.map((r) => r.allowDeviceIds).filter((l) => l.length > 0),
    deny: new Set(both.flatMap((r) => r.denyDeviceIds)),
    maxEnrollments: cert?.maxEnrollments ?? customer?.maxEnrollments ?? null,
    enrollUntil: cert?.enrollUntil ?? customer?.enrollUntil ?? null,
    requireDeviceSecret: both.some((r) => r.requireDeviceSecret),
  };
}

/** Allow- and deny-lists. */
export function checkDeviceLists(p: EffectivePolicy, deviceId: string): void {
  if (p.deny.has(deviceId)) throw forbidden("device_denied", `device ${deviceId} is on the enrollment deny-list`);
  if (p.allowLists.some((l) => !l.includes(deviceId)))
    throw forbidden("device_not_allowed", `device ${deviceId} is not an expected device id`);
}

/** The one-time secret (CSR challengePassword), checked before signing; consumed in the issuing transaction. */
export async function checkDeviceSecret(p: EffectivePolicy, customerId: string, deviceId: string, presented?: string): Promise<boolean> {
  const secret = await db().deviceSecret.findUnique({ where: { customerId_deviceId: { customerId, deviceId } } });
  return checkSecretRow(p, deviceId, presented, secret);
}

/** checkDeviceSecret on an already-read DeviceSecret row (null: none registered). */
export function checkSecretRow(
  p: EffectivePolicy,
  deviceId: string,
  presented: string | undefined,
  secret: { secretHash: string; usedAt: Date | null } | null,
): boolean {
  if (!secret) {
    if (p.requireDeviceSecret)
      throw forbidden("device_secret_required", `no one-time enrollment secret is registered for device ${deviceId}`);
    return false;
  }
  if (presented === undefined)
    throw forbidden("device_secret_required", "this device must present its one-time secret (CSR challengePassword)");
  if (secret.usedAt) throw forbidden("device_secret_used", "this one-time enrollment secret was already used");
  if (!clientSecretMatches(presented, secret.secretHash))
    throw forbidden("device_secret_invalid", "the one-time enrollment secret is wrong");
  return true;
}

export async function consumeDeviceSecret(tx: Tx, customerId: string, deviceId: string, now: Date): Promise<void> {
  const r = await tx.deviceSecret.updateMany({ where: { customerId, deviceId, usedAt: null }, data: { usedAt: now } });
  if (r.count === 0) throw forbidden("device_secret_used", "this one-time enrollment secret was already used");
}

/** Enrollment budget of one bootstrapping certificate; `tx` counts inside the issuing transaction. */
export async function checkBudget(p: EffectivePolicy, bootstrapCertId: string, now: Date, client: Tx = db()): Promise<void> {
  if (p.enrollUntil && now > p.enrollUntil)
    throw new BudgetExceeded("enrollment_window_closed", "this bootstrapping certificate's enrollment window has closed");
  if (p.maxEnrollments !== null) {
    const used = await client.device.count({ where: { enrolledById: bootstrapCertId } });
    if (used >= p.maxEnrollments)
      throw new BudgetExceeded(
        "enrollment_budget_exceeded",
        `this bootstrapping certificate may enroll at most ${p.maxEnrollments} devices`,
      );
  }
}

/** Exceeding the budget quarantines the bootstrapping certificate (the BORE defence). */
export class BudgetExceeded extends AppError {
  constructor(code: string, message: string) {
    super(code, `${message}; it is now quarantined`, 403);
  }
}

/** Quarantine a bootstrapping certificate: refused at the device API until an admin releases or revokes it. */
export async function quarantineBootstrap(certId: string, reason: string, actor: Actor, now = new Date()): Promise<void> {
  await db().$transaction(async (tx) => {
    const r = await tx.certificate.updateMany({
      where: { id: certId, kind: "BOOTSTRAP", quarantinedAt: null },
      data: { quarantinedAt: now, quarantineReason: reason },
    });
    if (!r.count) return;
    const c = await tx.certificate.findUniqueOrThrow({ where: { id: certId }, select: { serial: true, customerId: true } });
    await audit(tx, actor, {
      action: "bootstrap.quarantine",
      outcome: "success",
      customerId: c.customerId,
      target: `certificate:${c.serial}`,
      details: { reason },
    });
  });
}
