// Managing enrollment policy (SPEC §5; CLI, portal and customer API): set/show a policy, release a quarantined
// bootstrapping certificate, register and list one-time device secrets, add, list and disable enrollment groups.
// Every policy row is written by writePolicy, with its audit event, in the caller's transaction.
import { createHash, createHmac, hkdfSync, randomBytes, X509Certificate } from "node:crypto";
import { z } from "zod";
import { authSecret } from "../../auth/secret.ts";
import { ADMIN_TX_MAX_WAIT, bytes, db, type Tx } from "../../db/client.ts";
import { AppError, isUniqueViolation } from "../../errors.ts";
import { readCertificate } from "../../pki/certificate.ts";
import { pemCertificates } from "../../pki/der.ts";
import { DEVICE_ID_PATTERN } from "../../pki/names.ts";
import { normalizeSerial } from "../../pki/serial.ts";
import { isStorableTime, TIME_RANGE_MESSAGE } from "../../validations/common.ts";
import { ENROLL_RATE_MAX } from "../../validations/enrollment.ts";
import { type Actor, audit } from "../audit/record.ts";
import { hashDeviceSecret } from "./device-secret-hash.ts";
import { effectiveEnrollRate, type PolicyRow } from "./policy.ts";

const deviceIds = z.array(z.string().regex(DEVICE_ID_PATTERN, "device ids must match ^[A-Za-z0-9.:-]{1,64}$")).max(100_000);

export const policyInput = z.object({
  customerId: z.uuid(),
  /** a bootstrapping certificate's serial; absent: the customer-wide policy */
  bootstrapSerial: z.string().optional(),
  allowDeviceIds: deviceIds.optional(),
  denyDeviceIds: deviceIds.optional(),
  maxEnrollments: z.number().int().min(0).nullable().optional(),
  enrollUntil: z.coerce.date().refine(isStorableTime, TIME_RANGE_MESSAGE).nullable().optional(),
  requireDeviceSecret: z.boolean().optional(),
  /** simpleenroll attempts per minute (0: no limit; null: inherit the customer's, then the server default) */
  enrollRatePerMinute: z.number().int().min(0).max(ENROLL_RATE_MAX).nullable().optional(),
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

/** The policy columns a write may set; a field left out keeps its value. */
export type PolicyFields = {
  allowDeviceIds?: string[];
  denyDeviceIds?: string[];
  maxEnrollments?: number | null;
  enrollUntil?: Date | null;
  requireDeviceSecret?: boolean;
  enrollRatePerMinute?: number | null;
};

/**
 * Create or update one policy row (the customer-wide one, or a bootstrapping certificate's) and audit it, inside
 * the caller's transaction: the one place policies are written. The audit event names the fields and the list
 * sizes, never whole lists.
 */
export async function writePolicy(
  tx: Tx,
  scope: { customerId: string; bootstrapCertId: string | null; target: string },
  fields: PolicyFields,
  actor: Actor,
) {
  const data = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as PolicyFields;
  // (customerId, bootstrapCertId) is unique, but NULLs are distinct in a unique index: find, then write —
  // under a transaction lock on the scope, so two concurrent first saves cannot both create the row.
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`policy:${scope.customerId}:${scope.bootstrapCertId ?? "*"}`}, 0))`;
  const existing = await tx.enrollmentPolicy.findFirst({
    where: { customerId: scope.customerId, bootstrapCertId: scope.bootstrapCertId },
    select: { id: true },
  });
  const row = existing
    ? await tx.enrollmentPolicy.update({ where: { id: existing.id }, data })
    : await tx.enrollmentPolicy.create({
        data: { customerId: scope.customerId, bootstrapCertId: scope.bootstrapCertId, allowDeviceIds: [], denyDeviceIds: [], ...data },
      });
  await audit(tx, actor, {
    action: "enrollment_policy.set",
    customerId: scope.customerId,
    target: scope.target,
    details: {
      fields: Object.keys(data),
      ...(data.allowDeviceIds ? { allowDeviceIds: data.allowDeviceIds.length } : {}),
      ...(data.denyDeviceIds ? { denyDeviceIds: data.denyDeviceIds.length } : {}),
      ...(data.maxEnrollments !== undefined ? { maxEnrollments: data.maxEnrollments } : {}),
      ...(data.enrollUntil !== undefined ? { enrollUntil: data.enrollUntil?.toISOString() ?? null } : {}),
      ...(data.requireDeviceSecret !== undefined ? { requireDeviceSecret: data.requireDeviceSecret } : {}),
      ...(data.enrollRatePerMinute !== undefined ? { enrollRatePerMinute: data.enrollRatePerMinute } : {}),
    },
  });
  return row;
}

/** Create or update a policy; fields not given keep their value. Bad input: policy_invalid, nothing written. */
export async function setEnrollmentPolicy(raw: PolicyInput, actor: Actor) {
  const parsed = policyInput.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError("policy_invalid", `${issue.path.join(".") || "policy"}: ${issue.message}`, 400);
  }
  const input = parsed.data;
  const bootstrapCertId = await bootstrapCertOf(input.customerId, input.bootstrapSerial);
  const target = bootstrapCertId ? `certificate:${normalizeSerial(input.bootstrapSerial!)}` : `customer:${input.customerId}`;
  const { customerId: _c, bootstrapSerial: _s, ...fields } = input;
  // saves of one policy queue behind each other (writePolicy locks its scope)
  return db().$transaction((tx) => writePolicy(tx, { customerId: input.customerId, bootstrapCertId, target }, fields, actor), {
    maxWait: ADMIN_TX_MAX_WAIT,
  });
}

/** A policy row as the API and the CLI show it. */
function policyView(r: PolicyRow, serial?: string) {
  return {
    scope: r.bootstrapCertId ? `bootstrap:${serial}` : "customer",
    allowDeviceIds: r.allowDeviceIds,
    denyDeviceIds: r.denyDeviceIds,
    maxEnrollments: r.maxEnrollments,
    enrollUntil: r.enrollUntil,
    requireDeviceSecret: r.requireDeviceSecret,
    enrollRatePerMinute: r.enrollRatePerMinute,
  };
}

/** setEnrollmentPolicy, answering the policy as now stored. */
export async function updateEnrollmentPolicy(raw: PolicyInput, actor: Actor) {
  const row = await setEnrollmentPolicy(raw, actor);
  return policyView(row, raw.bootstrapSerial === undefined ? undefined : normalizeSerial(raw.bootstrapSerial));
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
    policies: rows.map((r) => policyView(r, certs.find((c) => c.id === r.bootstrapCertId)?.serial)),
    quarantined,
    /** the enrollment rate limit of a credential whose policies both inherit (enrollRatePerMinute null) */
    defaultEnrollRatePerMinute: effectiveEnrollRate(null, null).perMinute,
  };
}

/** Release a quarantined bootstrapping certificate. */
export async function releaseBootstrap(customerId: string, serial: string, actor: Actor) {
  const id = await bootstrapCertOf(customerId, serial);
  // the release and its audit event together: a security decision (SPEC §5) is never in force unrecorded
  await db().$transaction(async (tx) => {
    const r = await tx.certificate.updateMany({
      where: { id: id!, quarantinedAt: { not: null } },
      data: { quarantinedAt: null, quarantineReason: null },
    });
    if (!r.count) throw new AppError("not_quarantined", "This bootstrapping certificate is not quarantined.", 409);
    await audit(tx, actor, { action: "bootstrap.release", customerId, target: `certificate:${normalizeSerial(serial)}` });
  });
  return { serial: normalizeSerial(serial), released: true };
}

/** Register a one-time enrollment secret for a device id; returns the secret (shown once; only its hash is kept). */
export async function addDeviceSecret(input: { customerId: string; deviceId: string; secret?: string }, actor: Actor) {
  const deviceId = z.string().regex(DEVICE_ID_PATTERN).parse(input.deviceId);
  // hex: nothing a device's command line could take for an option (base64url may begin with "-")
  const secret = input.secret ?? randomBytes(16).toString("hex");
  if (secret.length < 16 || !/^[A-Za-z0-9 '()+,\-./:=?_]+$/.test(secret))
    throw new AppError("secret_invalid", "a device secret needs at least 16 characters of letters, digits and -._", 400);
  const secretHash = await hashDeviceSecret(secret);
  await db().$transaction(async (tx) => {
    await tx.deviceSecret.upsert({
      where: { customerId_deviceId: { customerId: input.customerId, deviceId } },
      create: { customerId: input.customerId, deviceId, secretHash },
      update: { secretHash, usedAt: null, createdAt: new Date() },
    });
    await audit(tx, actor, { action: "device_secret.add", customerId: input.customerId, target: `device:${deviceId}` });
  });
  return { deviceId, secret };
}

const memo = globalThis as unknown as { __pssGroupCodeKey?: Buffer };

/** The registration codes' HMAC key, derived from the auth secret (as the API token key is) and never the secret itself. */
function groupCodeKey(): Buffer {
  memo.__pssGroupCodeKey ??= Buffer.from(hkdfSync("sha256", authSecret(), "pss", "pss enrollment group registration code v1", 32));
  return memo.__pssGroupCodeKey;
}

/**
 * The customer's enrollment group registration code (AWS IoT's CA registration model): registering a maker CA
 * takes a verification certificate signed by the CA's key whose subject CN is this code, the proof that the
 * customer controls the CA — CA certificates are public (devices send them in every TLS chain). Deterministic
 * per customer, so the portal and the CLI show the same value; keyed by the auth secret, so nobody computes
 * another customer's code, and a verification certificate made for one customer is worthless to another.
 */
export function registrationCode(customerId: string): string {
  return createHmac("sha256", groupCodeKey()).update(`enrollment-group-registration:${customerId}`).digest("hex").slice(0, 32);
}

/** The subject CN values of a certificate (X509Certificate.subject puts one attribute per line). */
function commonNames(cert: X509Certificate): string[] {
  return cert.subject.split("\n").flatMap((line) => (line.startsWith("CN=") ? [line.slice(3)] : []));
}

/**
 * Proof of possession of the maker CA's key: the verification certificate parses, is signed by the CA's key,
 * names the customer's registration code as its only CN, and is valid now. Otherwise group_verification_invalid
 * with the reason.
 */
function checkVerification(ca: X509Certificate, customerId: string, input: string | Uint8Array | undefined, now = new Date()) {
  const refuse = (reason: string) => new AppError("group_verification_invalid", `the verification certificate ${reason}`, 400);
  if (input === undefined || input.length === 0)
    throw refuse("is missing: have the CA sign a certificate whose subject CN is your registration code, to prove you hold the CA's key");
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(toDer(input));
  } catch {
    throw refuse("cannot be parsed");
  }
  let signed = false;
  try {
    signed = cert.verify(ca.publicKey);
  } catch {
    signed = false;
  }
  if (!signed) throw refuse("is not signed by the CA's key");
  const cns = commonNames(cert);
  if (cns.length !== 1 || cns[0] !== registrationCode(customerId)) throw refuse("does not name your registration code as its subject CN");
  if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) throw refuse("is not valid now (expired or not yet valid)");
}

/**
 * A maker CA belongs to one customer: refuse a CA that another customer's enabled group already names, by key,
 * or that issued or was issued by one (the devices under it would match both groups). Deeper relations, through
 * intermediates we never see, are caught at enrollment: matches of several customers refuse the device. The
 * refusal names no one: whose CA it is stays theirs.
 */
async function refuseClaimedCa(tx: Tx, customerId: string, der: Buffer) {
  const mine = new X509Certificate(der);
  const issues = (parent: X509Certificate, child: X509Certificate) => child.checkIssued(parent) && child.verify(parent.publicKey);
  const others = await tx.enrollmentGroup.findMany({
    where: { customerId: { not: customerId }, disabledAt: null },
    select: { caCertDer: true },
  });
  for (const row of others) {
    const other = new X509Certificate(Buffer.from(row.caCertDer));
    if (mine.publicKey.equals(other.publicKey) || issues(mine, other) || issues(other, mine))
      throw new AppError(
        "group_ca_claimed",
        "this CA, its issuer or a CA it issued is already registered in an enrollment group: ask the manufacturer for a CA of your own",
        409,
      );
  }
}

/**
 * Add an enrollment group: a manufacturer CA certificate (PEM or DER) whose devices enroll into the customer,
 * with a verification certificate (PEM or DER) that proves the registrant holds the CA's key (checkVerification).
 */
export async function addEnrollmentGroup(
  input: { customerId: string; name: string; caCert: string | Uint8Array; verificationCert: string | Uint8Array | undefined; uid: string },
  actor: Actor,
) {
  const der = toDer(input.caCert);
  let fields: ReturnType<typeof readCertificate>;
  let ca: X509Certificate;
  try {
    fields = readCertificate(der);
    ca = new X509Certificate(der);
  } catch {
    throw new AppError("ca_cert_invalid", "the group's CA certificate cannot be parsed", 400);
  }
  if (!fields.ca) throw new AppError("ca_cert_invalid", "the group's certificate is not a CA (basicConstraints CA:TRUE)", 400);
  checkVerification(ca, input.customerId, input.verificationCert);
  const user = await db().user.findUnique({ where: { uid: input.uid }, select: { customerId: true, disabledAt: true } });
  if (!user || user.customerId !== input.customerId) throw new AppError("user_not_found", "No such user of this customer.", 404);
  if (user.disabledAt) throw new AppError("user_disabled", "This user is disabled.", 409);
  const caSha256 = createHash("sha256").update(der).digest("hex");
  try {
    return await db().$transaction(async (tx) => {
      // one registration at a time, so two customers cannot claim related CAs concurrently
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended('enrollment_group:add', 0))`;
      await refuseClaimedCa(tx, input.customerId, der);
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

/**
 * The customer-wide policy (or, with `bootstrapSerial`, that bootstrapping certificate's own) as the portal shows
 * it: list sizes with a few entries, never whole lists. Another customer's serial is a 404.
 */
export async function customerPolicy(customerId: string, preview = 10, bootstrapSerial?: string) {
  const bootstrapCertId = await bootstrapCertOf(customerId, bootstrapSerial);
  const [row, customerRow, quarantined] = await Promise.all([
    db().enrollmentPolicy.findFirst({ where: { customerId, bootstrapCertId } }),
    // a certificate's rate limit inherits the customer-wide one
    bootstrapCertId
      ? db().enrollmentPolicy.findFirst({ where: { customerId, bootstrapCertId: null }, select: { enrollRatePerMinute: true } })
      : null,
    db().certificate.count({ where: { customerId, kind: "BOOTSTRAP", quarantinedAt: { not: null }, revokedAt: null } }),
  ]);
  const list = (ids: string[] | undefined) => ({ count: ids?.length ?? 0, preview: (ids ?? []).slice(0, preview) });
  return {
    allow: list(row?.allowDeviceIds),
    deny: list(row?.denyDeviceIds),
    maxEnrollments: row?.maxEnrollments ?? null,
    enrollUntil: row?.enrollUntil ?? null,
    requireDeviceSecret: row?.requireDeviceSecret ?? false,
    /** this scope's own value (null: inherit) */
    enrollRatePerMinute: row?.enrollRatePerMinute ?? null,
    /** the limit in force and where it comes from */
    enrollRate: bootstrapCertId
      ? effectiveEnrollRate(customerRow?.enrollRatePerMinute, row?.enrollRatePerMinute)
      : effectiveEnrollRate(row?.enrollRatePerMinute, null),
    updatedAt: row?.updatedAt ?? null,
    quarantinedBootstrapCertificates: quarantined,
  };
}

export const SECRETS_PAGE_SIZE = 25;

/** One-time device secrets of a customer, newest first: device id and state, never the hash. */
export async function listDeviceSecrets(customerId: string, opts: { page?: number; size?: number } = {}) {
  const size = Math.min(Math.max(opts.size ?? SECRETS_PAGE_SIZE, 1), 100);
  const page = Math.max(opts.page ?? 1, 1);
  const [rows, total] = await Promise.all([
    db().deviceSecret.findMany({
      where: { customerId },
      orderBy: [{ createdAt: "desc" }, { deviceId: "asc" }],
      skip: (page - 1) * size,
      take: size,
      select: { deviceId: true, createdAt: true, usedAt: true },
    }),
    db().deviceSecret.count({ where: { customerId } }),
  ]);
  return { rows, total, page, pages: Math.max(Math.ceil(total / size), 1) };
}

/** A customer's enrollment groups (without the CA certificate bytes), with the email of the user whose UID they carry. */
export async function listEnrollmentGroups(customerId: string) {
  const groups = await db().enrollmentGroup.findMany({
    where: { customerId },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: 500,
    select: { id: true, name: true, caSubject: true, caSha256: true, uid: true, createdAt: true, disabledAt: true },
  });
  const users = await db().user.findMany({
    where: { customerId, uid: { in: [...new Set(groups.map((g) => g.uid))] } },
    select: { uid: true, email: true },
  });
  const email = new Map(users.map((u) => [u.uid, u.email]));
  return groups.map((g) => ({ ...g, email: email.get(g.uid) ?? null }));
}

/**
 * Disable an enrollment group of the customer: devices under its CA are refused from now on (the device listener
 * re-reads groups within a second). Another customer's group, or no such group: 404. Disabling is final.
 */
export async function disableEnrollmentGroup(input: { customerId: string; groupId: string }, actor: Actor) {
  const notFound = new AppError("group_not_found", "No such enrollment group.", 404);
  if (!z.uuid().safeParse(input.groupId).success) throw notFound;
  const group = await db().enrollmentGroup.findFirst({
    where: { id: input.groupId, customerId: input.customerId },
    select: { id: true, name: true, disabledAt: true },
  });
  if (!group) throw notFound;
  if (group.disabledAt) return { id: group.id, name: group.name, disabledAt: group.disabledAt, alreadyDisabled: true };
  const disabledAt = new Date();
  await db().$transaction(async (tx) => {
    await tx.enrollmentGroup.updateMany({ where: { id: group.id, disabledAt: null }, data: { disabledAt } });
    await audit(tx, actor, {
      action: "enrollment_group.disable",
      customerId: input.customerId,
      target: `group:${group.id}`,
      details: { name: group.name },
    });
  });
  return { id: group.id, name: group.name, disabledAt, alreadyDisabled: false };
}

function toDer(input: string | Uint8Array): Buffer {
  const text = typeof input === "string" ? input : Buffer.from(input).toString("latin1");
  if (text.includes("-----BEGIN")) {
    const [first] = pemCertificates(text);
    if (!first) throw new AppError("ca_cert_invalid", "expected a CERTIFICATE PEM block", 400);
    return first;
  }
  return Buffer.from(typeof input === "string" ? Buffer.from(input, "base64") : input);
}

function subjectText(der: Buffer): string {
  return new X509Certificate(der).subject.replace(/\n/g, ", ");
}
