// Enrollment policy (SPEC §5): the customer-wide policy and a bootstrapping certificate's own policy both
// apply. Deny-lists add up; every non-empty allow-list must name the device; the certificate's budget fields
// override the customer's defaults; a one-time secret is required when either policy says so, and always
// checked when one is registered for the device. The rate limit of enrollment attempts is the certificate's own,
// else the customer's, else the server default (DEVICE_ENROLL_RATE_PER_MINUTE).
//
// Enrollment groups have no policy row of their own: the customer-wide policy applies to each of them as it
// does to a bootstrapping certificate without one — lists, secrets and the budget, counted per group.
import { db, type Tx } from "../../db/client.ts";
import { env } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { type Actor, audit } from "../audit/record.ts";
import { deviceSecretMatches } from "./device-secret-hash.ts";

export type EffectivePolicy = {
  allowLists: Set<string>[];
  deny: Set<string>;
  maxEnrollments: number | null;
  enrollUntil: Date | null;
  requireDeviceSecret: boolean;
  enrollRate: EnrollRate;
};

const forbidden = (code: string, message: string) => new AppError(code, message, 403);

export type PolicyRow = {
  bootstrapCertId: string | null;
  allowDeviceIds: string[];
  denyDeviceIds: string[];
  maxEnrollments: number | null;
  enrollUntil: Date | null;
  requireDeviceSecret: boolean;
  /** simpleenroll attempts per minute; 0: no limit; null: inherit */
  enrollRatePerMinute: number | null;
};

/** A credential's simpleenroll attempts per minute (0: no limit) and the policy that sets it. */
export type EnrollRate = { perMinute: number; source: "certificate" | "customer" | "server" };

/**
 * The rate limit of enrollment attempts (SPEC §5): the bootstrapping certificate's own policy row, else the
 * customer-wide row, else DEVICE_ENROLL_RATE_PER_MINUTE. An enrollment group has no row of its own (certificate: null).
 */
export function effectiveEnrollRate(customer: number | null | undefined, certificate: number | null | undefined): EnrollRate {
  if (certificate != null) return { perMinute: certificate, source: "certificate" };
  if (customer != null) return { perMinute: customer, source: "customer" };
  return { perMinute: env().DEVICE_ENROLL_RATE_PER_MINUTE, source: "server" };
}

/** The policy rows that apply to an enrollment: the customer-wide one and the bootstrapping certificate's own. */
const rowsFor = (customerId: string, bootstrapCertId: string | null) => ({
  customerId,
  OR: [{ bootstrapCertId: null }, ...(bootstrapCertId ? [{ bootstrapCertId }] : [])],
});

export async function effectivePolicy(customerId: string, bootstrapCertId: string | null): Promise<EffectivePolicy> {
  return policyFromRows(await db().enrollmentPolicy.findMany({ where: rowsFor(customerId, bootstrapCertId) }));
}

/** Only the rate limit of an enrollment's credential: no device lists read (they may hold 100,000 ids each). */
export async function enrollRateFor(customerId: string, bootstrapCertId: string | null): Promise<EnrollRate> {
  const rows = await db().enrollmentPolicy.findMany({
    where: rowsFor(customerId, bootstrapCertId),
    select: { bootstrapCertId: true, enrollRatePerMinute: true },
  });
  const rate = (certificate: boolean) => rows.find((r) => (r.bootstrapCertId !== null) === certificate)?.enrollRatePerMinute;
  return effectiveEnrollRate(rate(false), rate(true));
}

/** The customer-wide row (bootstrapCertId null) and the bootstrapping certificate's own row combined. */
export function policyFromRows(rows: PolicyRow[]): EffectivePolicy {
  const customer = rows.find((r) => r.bootstrapCertId === null);
  const cert = rows.find((r) => r.bootstrapCertId !== null);
  const both = [customer, cert].filter((r) => r !== undefined);
  return {
    allowLists: both.filter((r) => r.allowDeviceIds.length > 0).map((r) => new Set(r.allowDeviceIds)),
    deny: new Set(both.flatMap((r) => r.denyDeviceIds)),
    maxEnrollments: cert?.maxEnrollments ?? customer?.maxEnrollments ?? null,
    enrollUntil: cert?.enrollUntil ?? customer?.enrollUntil ?? null,
    requireDeviceSecret: both.some((r) => r.requireDeviceSecret),
    enrollRate: effectiveEnrollRate(customer?.enrollRatePerMinute, cert?.enrollRatePerMinute),
  };
}

/** Allow- and deny-lists. */
export function checkDeviceLists(p: EffectivePolicy, deviceId: string): void {
  if (p.deny.has(deviceId)) throw forbidden("device_denied", `device ${deviceId} is on the enrollment deny-list`);
  if (p.allowLists.some((l) => !l.has(deviceId))) throw forbidden("device_not_allowed", `device ${deviceId} is not an expected device id`);
}

/** The one-time secret (CSR challengePassword), checked before signing; consumed in the issuing transaction. */
export async function checkDeviceSecret(p: EffectivePolicy, customerId: string, deviceId: string, presented?: string): Promise<boolean> {
  const secret = await db().deviceSecret.findUnique({ where: { customerId_deviceId: { customerId, deviceId } } });
  return checkSecretRow(p, deviceId, presented, secret);
}

/** checkDeviceSecret on an already-read DeviceSecret row (null: none registered). */
export async function checkSecretRow(
  p: EffectivePolicy,
  deviceId: string,
  presented: string | undefined,
  secret: { secretHash: string; usedAt: Date | null } | null,
): Promise<boolean> {
  if (!secret) {
    if (p.requireDeviceSecret)
      throw forbidden("device_secret_required", `no one-time enrollment secret is registered for device ${deviceId}`);
    return false;
  }
  if (presented === undefined)
    throw forbidden("device_secret_required", "this device must present its one-time secret (CSR challengePassword)");
  if (secret.usedAt) throw forbidden("device_secret_used", "this one-time enrollment secret was already used");
  if (!(await deviceSecretMatches(presented, secret.secretHash)))
    throw forbidden("device_secret_invalid", "the one-time enrollment secret is wrong");
  return true;
}

/**
 * Marks the secret the request presented as used, in the issuing transaction — that secret, by its hash: one an
 * admin replaced meanwhile (a leaked one, say) is not the one consumed, and its enrollment is refused.
 */
export async function consumeDeviceSecret(tx: Tx, customerId: string, deviceId: string, secretHash: string, now: Date): Promise<void> {
  const r = await tx.deviceSecret.updateMany({ where: { customerId, deviceId, secretHash, usedAt: null }, data: { usedAt: now } });
  if (r.count === 0) throw forbidden("device_secret_used", "this one-time enrollment secret was already used or replaced");
}

/** What an enrollment is counted against: the bootstrapping certificate, or the enrollment group. */
export type EnrollmentCredential = { bootstrapCertId: string } | { groupId: string };

/** Does the policy set a budget (max devices or a window) at all? */
export const hasBudget = (p: EffectivePolicy) => p.maxEnrollments !== null || p.enrollUntil !== null;

/**
 * The enrollment budget of one credential; `client` counts inside the issuing transaction (the caller holds a
 * lock on the credential's row there, so two enrollments cannot both take the last place). A device id an admin
 * reset (`reenroll`) is not a new device: it takes no place of the budget, while the time window still applies.
 */
export async function checkBudget(
  p: EffectivePolicy,
  credential: EnrollmentCredential,
  at: { now: Date; reenroll: boolean },
  client: Tx = db(),
): Promise<void> {
  const exceeded = "bootstrapCertId" in credential ? bootstrapExceeded : groupExceeded;
  if (p.enrollUntil && at.now > p.enrollUntil) throw exceeded.window();
  if (p.maxEnrollments === null || at.reenroll) return;
  const used =
    "bootstrapCertId" in credential
      ? await client.device.count({ where: { enrolledById: credential.bootstrapCertId } })
      : await groupEnrollments(client, credential.groupId);
  if (used >= p.maxEnrollments) throw exceeded.max(p.maxEnrollments);
}

/**
 * Devices a group enrolled: a group's device gets one certificate authorized by the group (its first, and one more
 * after each reset); rotations are authorized by the device's own certificate. The predicate is the partial
 * index's, word for word (migration 20261122160000_group_enrollment_count), so the count reads the group's rows only.
 */
async function groupEnrollments(client: Tx, groupId: string): Promise<number> {
  const [{ n }] = await client.$queryRaw<{ n: number }[]>`
    SELECT count(DISTINCT "deviceRef")::int AS n FROM "Certificate"
    WHERE "kind" = 'CLIENT_TLS' AND "authorizedBy" LIKE 'group:%' AND "authorizedBy" = ${`group:${groupId}`}`;
  return n;
}

/** Lock the credential's row for the rest of the transaction: its enrollments are counted one at a time. */
export async function lockCredential(tx: Tx, credential: EnrollmentCredential): Promise<void> {
  if ("bootstrapCertId" in credential)
    await tx.$executeRaw`SELECT 1 FROM "Certificate" WHERE id = ${credential.bootstrapCertId}::uuid FOR UPDATE`;
  else await tx.$executeRaw`SELECT 1 FROM "EnrollmentGroup" WHERE id = ${credential.groupId}::uuid FOR UPDATE`;
}

/** Exceeding the budget quarantines the bootstrapping certificate (the BORE defence). */
export class BudgetExceeded extends AppError {
  constructor(code: string, message: string) {
    super(code, `${message}; it is now quarantined`, 403);
  }
}

const bootstrapExceeded = {
  window: () => new BudgetExceeded("enrollment_window_closed", "this bootstrapping certificate's enrollment window has closed"),
  max: (n: number) => new BudgetExceeded("enrollment_budget_exceeded", `this bootstrapping certificate may enroll at most ${n} devices`),
};

/**
 * A group over its budget is refused, not disabled: there is no bootstrapping certificate to quarantine (each
 * device brings its own maker certificate), and the refusal lasts by itself, since a count only grows and a
 * window does not reopen — until an administrator raises the customer's budget or window. Every refusal is
 * audited (lib/data/enrollment/issue.ts auditRefusal), as a quarantine is. Distinct codes, so the operator
 * knows which policy to change.
 */
const groupExceeded = {
  window: () =>
    new AppError(
      "group_enrollment_window_closed",
      "the customer's enrollment window has closed for this enrollment group: an administrator must extend it",
      403,
    ),
  max: (n: number) =>
    new AppError(
      "group_budget_exceeded",
      `this enrollment group may enroll at most ${n} devices (the customer's budget): an administrator must raise it`,
      403,
    ),
};

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
