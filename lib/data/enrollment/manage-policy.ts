// Managing enrollment policy (CLI now, portal and API later): set/show a policy, release a quarantined
// bootstrapping certificate, register one-time device secrets, add enrollment groups.
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { z } from "zod";
import { bytes, db } from "../../db/client.ts";
import { AppError, isUniqueViolation } from "../../errors.ts";
import { readCertificate } from "../../pki/certificate.ts";
import { DEVICE_ID_PATTERN } from "../../pki/names.ts";
import { normalizeSerial } from "../../pki/serial.ts";
import { type Actor, audit } from "../audit/record.ts";
import { hashClientSecret } from "../clients/secrets.ts";

const deviceIds = z.array(z.string().regex(DEVICE_ID_PATTERN, "device ids must match ^[A-Za-z0-9.:-]{1,64}$")).max(100_000);

export const policyInput = z.object({
  customerId: z.uuid(),
  /** a bootstrapping certificate's serial; absent: the customer-wide policy */
  bootstrapSerial: z.string().optional(),
  allowDeviceIds: deviceIds.optional(),
  denyDeviceIds: deviceIds.optional(),
  maxEnrollments: z.number().int().min(0).nullable().optional(),
  enrollUntil: z.coerce.date().nullable().optional(),
  requireDeviceSecret: z.boolean().optional(),
});
export type PolicyInput = z.input<typeof policyInput>;

async function bootstrapCertOf(customerId: string, serial: string | undefined): Promise<string | null> {
  if (serial === undefined) return null;
  const cert = await db().certificate.findUnique({
    where: { serial: normalizeSerial(serial) },
    select: { id: true, customerId: true, kind: true },
  });
  if (!cert || cert.customerId !== customerId || cert.kind !== "BOOTSTRAP")
    throw new AppError("certificate_not_found", "No such bootstrapping certificate.", 404);
  return cert.id;
}

/** Create or update a policy; fields not given keep their value. */
export async function setEnrollmentPolicy(raw: PolicyInput, actor: Actor) {
  const input = policyInput.parse(raw);
  const bootstrapCertId = await bootstrapCertOf(input.customerId, input.bootstrapSerial);
  const data = {
    ...(input.allowDeviceIds === undefined ? {} : { allowDeviceIds: input.allowDeviceIds }),
    ...(input.denyDeviceIds === undefined ? {} : { denyDeviceIds: input.denyDeviceIds }),
    ...(input.maxEnrollments === undefined ? {} : { maxEnrollments: input.maxEnrollments }),
    ...(input.enrollUntil === undefined ? {} : { enrollUntil: input.enrollUntil }),
    ...(input.requireDeviceSecret === undefined ? {} : { requireDeviceSecret: input.requireDeviceSecret }),
  };
  return db().$transaction(async (tx) => {
    // (customerId, bootstrapCertId) is unique, but NULLs are distinct in a unique index: find, then write.
    const existing = await tx.enrollmentPolicy.findFirst({ where: { customerId: input.customerId, bootstrapCertId } });
    const row = existing
      ? await tx.enrollmentPolicy.update({ where: { id: existing.id }, data })
      : await tx.enrollmentPolicy.create({
          data: { customerId: input.customerId, bootstrapCertId, allowDeviceIds: [], denyDeviceIds: [], ...data },
        });
    await audit(tx, actor, {
      action: "enrollment_policy.set",
      customerId: input.customerId,
      target: bootstrapCertId ? `certificate:${normalizeSerial(input.bootstrapSerial!)}` : `customer:${input.customerId}`,
      details: { fields: Object.keys(data) },
    });
    return row;
  });
}

export async function showEnrollmentPolicies(customerId: string) {
  const rows = await db().enrollmentPolicy.findMany({ where: { customerId }, orderBy: { updatedAt: "asc" } });
  const certs = await db().certificate.findMany({
    where: { id: { in: rows.flatMap((r) => (r.bootstrapCertId ? [r.bootstrapCertId] : [])) } },
    select: { id: true, serial: true },
  });
  const quarantined = await db().certificate.findMany({
    where: { customerId, kind: "BOOTSTRAP", quarantinedAt: { not: null }, revokedAt: null },
    select: { serial: true, quarantinedAt: true, quarantineReason: true },
  });
  return {
    policies: rows.map((r) => ({
      scope: r.bootstrapCertId ? `bootstrap:${certs.find((c) => c.id === r.bootstrapCertId)?.serial}` : "customer",
      allowDeviceIds: r.allowDeviceIds,
      denyDeviceIds: r.denyDeviceIds,
      maxEnrollments: r.maxEnrollments,
      enrollUntil: r.enrollUntil,
      requireDeviceSecret: r.requireDeviceSecret,
    })),
    quarantined,
  };
}

/** Release a quarantined bootstrapping certificate. */
export async function releaseBootstrap(customerId: string, serial: string, actor: Actor) {
  const id = await bootstrapCertOf(customerId, serial);
  const r = await db().certificate.updateMany({
    where: { id: id!, quarantinedAt: { not: null } },
    data: { quarantinedAt: null, quarantineReason: null },
  });
  if (!r.count) throw new AppError("not_quarantined", "This bootstrapping certificate is not quarantined.", 409);
  await audit(null, actor, { action: "bootstrap.release", customerId, target: `certificate:${normalizeSerial(serial)}` });
  return { serial: normalizeSerial(serial), released: true };
}

/** Register a one-time enrollment secret for a device id; returns the secret (shown once; only its hash is kept). */
export async function addDeviceSecret(input: { customerId: string; deviceId: string; secret?: string }, actor: Actor) {
  const deviceId = z.string().regex(DEVICE_ID_PATTERN).parse(input.deviceId);
  const secret = input.secret ?? randomBytes(16).toString("base64url");
  if (secret.length < 16 || !/^[A-Za-z0-9 '()+,\-./:=?_]+$/.test(secret))
    throw new AppError("secret_invalid", "a device secret needs at least 16 characters of letters, digits and -._", 400);
  await db().$transaction(async (tx) => {
    await tx.deviceSecret.upsert({
      where: { customerId_deviceId: { customerId: input.customerId, deviceId } },
      create: { customerId: input.customerId, deviceId, secretHash: hashClientSecret(secret) },
      update: { secretHash: hashClientSecret(secret), usedAt: null, createdAt: new Date() },
    });
    await audit(tx, actor, { action: "device_secret.add", customerId: input.customerId, target: `device:${deviceId}` });
  });
  return { deviceId, secret };
}

/** Add an enrollment group: a manufacturer CA certificate (PEM or DER) whose devices enroll into the customer. */
export async function addEnrollmentGroup(
  input: { customerId: string; name: string; caCert: string | Uint8Array; uid: string },
  actor: Actor,
) {
  const der = toDer(input.caCert);
  let fields: ReturnType<typeof readCertificate>;
  try {
    fields = readCertificate(der);
  } catch {
    throw new AppError("ca_cert_invalid", "the group's CA certificate cannot be parsed", 400);
  }
  if (!fields.ca) throw new AppError("ca_cert_invalid", "the group's certificate is not a CA (basicConstraints CA:TRUE)", 400);
  const user = await db().user.findUnique({ where: { uid: input.uid }, select: { customerId: true } });
  if (!user || user.customerId !== input.customerId) throw new AppError("user_not_found", "No such user of this customer.", 404);
  const caSha256 = createHash("sha256").update(der).digest("hex");
  try {
    return await db().$transaction(async (tx) => {
      const g = await tx.enrollmentGroup.create({
        data: {
          customerId: input.customerId,
          name: z.string().min(1).max(100).parse(input.name),
          caCertDer: bytes(der),
          caSubject: subjectText(der),
          caSha256,
          uid: input.uid,
        },
        select: { id: true, name: true, caSubject: true, caSha256: true },
      });
      await audit(tx, actor, { action: "enrollment_group.add", customerId: input.customerId, target: `group:${g.id}`, details: g });
      return g;
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw new AppError("group_exists", "An enrollment group with this name already exists.", 409);
    throw e;
  }
}

function toDer(input: string | Uint8Array): Buffer {
  const text = typeof input === "string" ? input : Buffer.from(input).toString("latin1");
  if (text.includes("-----BEGIN")) {
    const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text);
    if (!m) throw new AppError("ca_cert_invalid", "expected a CERTIFICATE PEM block", 400);
    return Buffer.from(m[1].replace(/\s+/g, ""), "base64");
  }
  return Buffer.from(typeof input === "string" ? Buffer.from(input, "base64") : input);
}

function subjectText(der: Buffer): string {
  return new X509Certificate(der).subject.replace(/\n/g, ", ");
}
