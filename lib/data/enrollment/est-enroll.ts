// The EST use cases (SPEC §5), called by the device listener after the authorizer established who is calling:
//   simpleEnroll       bootstrapping certificate (or enrollment-group device) → first Client TLS certificate
//   simpleReenroll     the device's newest Client TLS certificate → rotated Client TLS certificate
//   applicationEnroll  a Client TLS certificate → application certificate (c2pa) for the same device
// A refusal throws an AppError and writes nothing (an exceeded budget quarantines the bootstrapping
// certificate); the device listener audits it (issue.ts auditRefusal).
//
// Repeats: a device whose answer was lost after the service committed (a timeout, a dropped connection, a full
// disk on the device) sends the same request again — the SDK keeps the key it sent until the certificate is
// stored. That request is answered with the certificate already issued instead of a refusal (clone_suspected,
// device_exists), when it is provably the same: the same credential, a CSR for the same key (only that key's
// holder can sign one), and a certificate nobody has used yet. The answer is a certificate for the requester's
// own key, so it reveals nothing new; it writes no certificate and takes no place of the budget, but counts
// as an attempt for the rate limits, and is audited as certificate.issue_repeated.
import { batchedRead } from "../../db/batch-reads.ts";
import { db, driverQuery, type Tx } from "../../db/client.ts";
import { env } from "../../env.ts";
import { AppError, isUniqueViolation } from "../../errors.ts";
import { type ParsedCsr, parseCsr, requireDeviceId } from "../../pki/csr.ts";
import { toPem } from "../../pki/der.ts";
import { getLeafProfile, type LeafProfileId } from "../../pki/profiles.ts";
import { hitRateLimitShedding, refuseShed } from "../api/rate-limit.ts";
import { audit } from "../audit/record.ts";
import { chainOf } from "../ca/chain.ts";
import { APPLICATION_PROFILES } from "../ca/hierarchy.ts";
import {
  type IssuedRecord,
  type IssueRequest,
  issueBatched,
  keyCertified,
  lockCertifiedKeys,
  resetCredentialMismatch,
} from "../certificates/issue-certificate.ts";
import { type DeviceIdentity, deviceActor } from "../devices/authorize.ts";
import { OPEN_RESET } from "../revocation/revoke-ca.ts";
import { DetailedRefusal, issueInTransaction } from "./issue.ts";
import {
  BudgetExceeded,
  checkBudget,
  checkDeviceLists,
  checkSecretRow,
  consumeDeviceSecret,
  type EnrollmentCredential,
  type EnrollRate,
  enrollRateFor,
  hasBudget,
  lockCredential,
  type PolicyRow,
  policyFromRows,
  quarantineBootstrap,
} from "./policy.ts";

const forbidden = (code: string, message: string) => new AppError(code, message, 403);

export type EnrollInput = { identity: DeviceIdentity; csr: string | Uint8Array; now?: Date };

function wrongKind(identity: DeviceIdentity, expected: string): never {
  const what =
    identity.kind === "GROUP" ? "an enrollment-group device certificate" : `a ${identity.kind.toLowerCase().replace("_", " ")} certificate`;
  throw forbidden("wrong_certificate_kind", `this endpoint needs ${expected}; the request was authenticated with ${what}`);
}

/**
 * Key newness (SPEC §5): never the authenticating key, never a key already certified for any device. Read
 * before signing, so most reuses are refused cheaply; the write decides it under the key's lock (requireNewKey).
 */
async function requireNewKey(csr: ParsedCsr, identity: DeviceIdentity) {
  if (csr.spkiSha256 === identity.spkiSha256)
    throw new AppError("csr_key_reused", "the request must carry a new key, not the authenticating certificate's key", 400);
  const other = await db().certificate.findFirst({ where: { spkiSha256: csr.spkiSha256 }, select: { id: true } });
  if (other) throw keyCertified();
}

/**
 * An application certificate's key is the device's own: not its Client TLS key, not a bootstrapping key (shared by
 * a whole production line), not a key certified for another device — or whoever holds that key could sign as
 * this device. Renewing with the key of one of its own application certificates is fine (RFC 7030 §4.2.2), unless
 * that certificate was revoked as compromised.
 */
async function requireOwnApplicationKey(tx: Tx, csr: ParsedCsr, identity: DeviceIdentity, deviceRef: string) {
  if (csr.spkiSha256 === identity.spkiSha256)
    throw new AppError("csr_key_reused", "an application certificate needs a key of its own, not the Client TLS key", 400);
  // under the key's lock, as every issuance that requires a new key takes it: two devices (or a re-enrollment and
  // this) with one key are decided one after the other
  const spkiSha256 = csr.spkiSha256;
  if (!(await lockCertifiedKeys(tx, [spkiSha256])).size) return; // a key nobody holds
  const foreign = await tx.certificate.findFirst({
    where: { spkiSha256, OR: [{ deviceRef: null }, { deviceRef: { not: deviceRef } }, { kind: { not: "APPLICATION" } }] },
    select: { id: true },
  });
  if (foreign) throw keyCertified();
  // a key whose certificate was revoked as compromised (a suspected clone's reset, say) is never certified again
  const compromised = await tx.certificate.findFirst({
    where: { spkiSha256, revocationReason: { in: ["keyCompromise", "cACompromise"] } },
    select: { id: true },
  });
  if (compromised) throw new AppError("csr_key_compromised", "this key's certificate was revoked as compromised: use a new key", 400);
}

/** The rate-limit key of an enrollment's credential: its bootstrapping certificate, or its enrollment group. */
const enrollKey = (identity: DeviceIdentity) =>
  identity.via === "group" ? `enroll:group:${identity.groupId}` : `enroll:bootstrap:${identity.serial}`;

/**
 * SPEC §5 rate limits: enrollment attempts per bootstrapping certificate (a leaked shared key is used from
 * many places at once) or per enrollment group, at the limit the enrollment policy sets (effectiveEnrollRate;
 * 0: none), counted in the database for every process. 429 + Retry-After. The limit needs the policy, so an
 * attempt is counted once the policy is read; a credential this process saw over its limit within the last
 * second (SHED_MS) is refused earlier, without database work (refuseShed in simpleEnroll).
 */
async function limitEnrollmentAttempts(identity: DeviceIdentity, rate: EnrollRate, now: Date) {
  if (rate.perMinute === 0) return;
  await hitRateLimitShedding(enrollKey(identity), rate.perMinute, 60, now);
}

/**
 * A device's own certificate requests (rotations, application certificates and their renewals), per device and
 * hour at DEVICE_CERT_RATE_PER_HOUR (0: none): a device needs a few a month, and each request signs and stores a
 * certificate, so one whose Client TLS key runs in a loop (or was copied) cannot mint them without end. Counted in
 * the database for every process, before the request's content is read; 429 + Retry-After.
 */
async function limitDeviceRequests(deviceRef: string, now: Date) {
  const perHour = env().DEVICE_CERT_RATE_PER_HOUR;
  if (perHour > 0) await hitRateLimitShedding(`certs:device:${deviceRef}`, perHour, 3600, now);
}

/** The CSR and its device id; a manufacturer's certificate is one device's: it enrolls that device id only. */
function enrollmentCsr(identity: DeviceIdentity, input: string | Uint8Array): { csr: ParsedCsr; deviceId: string } {
  const csr = parseCsr(input);
  const deviceId = requireDeviceId(csr);
  if (identity.via === "group" && deviceId !== identity.makerDeviceId)
    throw forbidden(
      "device_id_mismatch",
      `the request's device id differs from the one the manufacturer's certificate names (${identity.makerDeviceId ?? "none"})`,
    );
  return { csr, deviceId };
}

type EnrollmentFacts = {
  policies: PolicyRow[];
  deviceExists: boolean;
  /** the device id exists and an admin reset it: this enrollment re-enrolls it */
  deviceReset: boolean;
  /** the bootstrapping certificate a reset device may re-enroll with (null: its enrollment group) */
  resetFor: string | null;
  /** the bootstrapping certificate that enrolled the existing device */
  enrolledBy: string | null;
  keyUsed: boolean;
  secret: { secretHash: string; usedAt: Date | null } | null;
};

type JsonPolicy = Omit<PolicyRow, "enrollUntil"> & { enrollUntil: number | null };

type FactsKey = { customerId: string; bootstrapCertId: string | null; deviceId: string; spkiSha256: string };

/**
 * What simpleenroll checks before signing, read in one round trip — shared by concurrent enrollments
 * (lib/db/batch-reads.ts), each answer read after it was asked for: the function enrollment_facts, planned once
 * per session, straight through the driver like the authorizer's read.
 */
const readFacts = batchedRead(async (keys: string[]) => {
  const ks = keys.map((k) => JSON.parse(k) as FactsKey);
  const rows = await driverQuery<{
    i: number;
    policies: unknown;
    deviceExists: boolean;
    deviceReset: boolean;
    resetFor: string | null;
    enrolledBy: string | null;
    keyUsed: boolean;
    secret: unknown;
  }>("SELECT * FROM enrollment_facts($1::uuid[], $2::uuid[], $3::text[], $4::text[])", [
    ks.map((k) => k.customerId),
    ks.map((k) => k.bootstrapCertId),
    ks.map((k) => k.deviceId),
    ks.map((k) => k.spkiSha256),
  ]);
  const json = <T>(v: unknown): T => (typeof v === "string" ? JSON.parse(v) : v) as T;
  const facts = new Map<string, EnrollmentFacts>();
  for (const r of rows) {
    const secret = json<{ secretHash: string; usedAt: number | null } | null>(r.secret);
    facts.set(keys[r.i - 1], {
      policies: json<JsonPolicy[]>(r.policies).map((p) => ({ ...p, enrollUntil: p.enrollUntil === null ? null : new Date(p.enrollUntil) })),
      deviceExists: r.deviceExists,
      deviceReset: r.deviceReset,
      resetFor: r.resetFor,
      enrolledBy: r.enrolledBy,
      keyUsed: r.keyUsed,
      secret: secret && { secretHash: secret.secretHash, usedAt: secret.usedAt === null ? null : new Date(secret.usedAt) },
    });
  }
  return facts;
});

async function enrollmentFacts(key: FactsKey): Promise<EnrollmentFacts> {
  const facts = await readFacts(JSON.stringify(key));
  if (!facts) throw new Error("enrollment facts missing from their batch");
  return facts;
}

/** Two first enrollments of one device id racing: the loser hits the unique (customer, device id) → 409. */
async function conflictOnUnique<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (isUniqueViolation(e)) throw new AppError("device_exists", "this device id has already enrolled", 409);
    throw e;
  }
}

/**
 * A device reset open (revoke-ca.ts: its issuing CA and the customer's bootstrapping certificates were revoked) is
 * claimed by the first bootstrapping certificate of the customer issued after the reset that enrolls it: from then
 * on the reset names that certificate, as an admin's reset would. False when the device is not reset open, or the
 * certificate is older than the reset (issued before the compromise). In the enrollment's transaction: a refused
 * enrollment claims nothing.
 */
async function claimOpenReset(tx: Tx, customerId: string, deviceId: string, bootstrapCertId: string): Promise<boolean> {
  const claimed = await tx.$executeRaw`
    UPDATE "Device" d SET "resetFor" = ${bootstrapCertId}::uuid, "resetOpen" = false
    WHERE d."customerId" = ${customerId}::uuid AND d."deviceId" = ${deviceId}
      AND d."resetOpen" AND d."resetAt" IS NOT NULL AND d."resetFor" = ${OPEN_RESET}::uuid
      AND d."resetAt" < (SELECT c."createdAt" FROM "Certificate" c WHERE c.id = ${bootstrapCertId}::uuid AND c."customerId" = ${customerId}::uuid)`;
  return claimed === 1;
}

/** POST /.well-known/est/simpleenroll */
export function simpleEnroll({ identity, csr: input, now = new Date() }: EnrollInput): Promise<IssuedRecord> {
  return conflictOnUnique(async () => {
    if (identity.kind !== "BOOTSTRAP" && identity.kind !== "GROUP") wrongKind(identity, "a bootstrapping certificate");
    // a flood of a credential over its limit costs no database work
    refuseShed(enrollKey(identity), now);
    const bootstrapCertId = identity.via === "pss" ? identity.certId : null;
    const credential: EnrollmentCredential = identity.via === "pss" ? { bootstrapCertId: identity.certId } : { groupId: identity.groupId };
    let parsed: { csr: ParsedCsr; deviceId: string };
    try {
      parsed = enrollmentCsr(identity, input);
    } catch (e) {
      // a bad request is an attempt too, and over the limit it is refused as such: its policy read on its own
      await limitEnrollmentAttempts(identity, await enrollRateFor(identity.customerId, bootstrapCertId), now);
      throw e;
    }
    const { csr, deviceId } = parsed;
    // one statement for every pre-check (policy rows, device exists, key certified, one-time secret)
    const facts = await enrollmentFacts({ customerId: identity.customerId, bootstrapCertId, deviceId, spkiSha256: csr.spkiSha256 });
    const policy = policyFromRows(facts.policies);
    // counted before any refusal the request's content earns, as every attempt is
    await limitEnrollmentAttempts(identity, policy.enrollRate, now);
    checkDeviceLists(policy, deviceId);
    const authorizedBy = identity.via === "pss" ? `bootstrap:${identity.serial}` : `group:${identity.groupId}`;
    const repeat = () => repeatedEnrollment(identity, { csr, deviceId, authorizedBy, enrolledById: bootstrapCertId });
    if (facts.deviceExists) {
      // this request again, its answer lost: the certificate it got (a key of this device is certified then)
      const again = facts.keyUsed ? await repeat() : null;
      if (again) return again;
      throw new AppError("device_exists", `device ${deviceId} has already enrolled: rotate with simplereenroll`, 409);
    }
    // a reset left open by a CA revocation: a bootstrapping certificate may claim it (in the transaction below);
    // any other reset names its credential (NULL: the device's enrollment group)
    const claimsReset = facts.deviceReset && facts.resetFor === OPEN_RESET && bootstrapCertId !== null;
    if (facts.deviceReset && facts.resetFor !== bootstrapCertId && !claimsReset) throw resetCredentialMismatch();
    if (csr.spkiSha256 === identity.spkiSha256)
      throw new AppError("csr_key_reused", "the request must carry a new key, not the authenticating certificate's key", 400);
    if (facts.keyUsed) throw keyCertified();
    const useSecret = await checkSecretRow(policy, deviceId, csr.challengePassword, facts.secret);
    const budgeted = hasBudget(policy);
    const req: IssueRequest = {
      profile: "client-tls",
      csr,
      customerId: identity.customerId,
      uid: identity.uid,
      device: "create",
      ...(bootstrapCertId ? { enrolledById: bootstrapCertId } : {}),
      authorizedBy,
      ...(identity.via === "pss" ? { authCertId: identity.certId } : {}),
      requireNewKey: true,
      actor: deviceActor(identity),
    };
    try {
      // Nothing to lock or consume: the write joins the group commit, which still refuses a device id that
      // enrolled meanwhile (unique (customer, device id)) and a key certified meanwhile (requireNewKey).
      if (!budgeted && !useSecret && !claimsReset) return await issueBatched(req);
      // refused before signing when the budget is already spent
      // a re-enrollment by the credential that enrolled the device is no new device for its budget; by another, it is
      const at = { now, reenroll: facts.deviceReset && facts.enrolledBy === bootstrapCertId };
      if (budgeted) await checkBudget(policy, credential, at);
      return await issueInTransaction(req, {
        before: async (tx) => {
          if (claimsReset && !(await claimOpenReset(tx, identity.customerId, deviceId, bootstrapCertId))) throw resetCredentialMismatch();
          if (budgeted) {
            // serialize the enrollments of one credential, so the budget cannot be overrun
            await lockCredential(tx, credential);
            await checkBudget(policy, credential, at, tx);
          }
          if (useSecret && facts.secret) await consumeDeviceSecret(tx, identity.customerId, deviceId, facts.secret.secretHash, now);
        },
      });
    } catch (e) {
      // a twin of this request (sent again while the first was still in flight) committed first: its answer, and
      // no quarantine — the budget it found spent was spent by this very enrollment
      const again = twinRefusal(e, ENROLL_TWIN_REFUSALS) ? await repeat() : null;
      if (again) return again;
      if (e instanceof BudgetExceeded && bootstrapCertId) await quarantineBootstrap(bootstrapCertId, e.code, deviceActor(identity), now);
      throw e;
    }
  });
}

/** POST /.well-known/est/simplereenroll */
export function simpleReenroll({ identity, csr: input, now = new Date() }: EnrollInput): Promise<IssuedRecord> {
  return conflictOnUnique(async () => {
    if (identity.kind !== "CLIENT_TLS" || identity.via !== "pss" || !identity.deviceRef || !identity.deviceId)
      wrongKind(identity, "the device's current Client TLS certificate");
    const { certId, deviceRef, deviceId } = identity as DeviceIdentity & { via: "pss"; deviceRef: string; deviceId: string };
    await limitDeviceRequests(deviceRef, now);
    try {
      await requireNewest(identity, certId, deviceRef);
      const csr = parseCsr(input);
      await requireNewKey(csr, identity);
      return await issueInTransaction(
        {
          profile: "client-tls",
          csr,
          customerId: identity.customerId,
          uid: identity.uid,
          deviceId,
          device: "upsert",
          authorizedBy: `client-tls:${identity.serial}`,
          authCertId: certId,
          requireNewKey: true,
          actor: deviceActor(identity),
        },
        {
          before: async (tx) => {
            // one rotation per device at a time: a clone racing the device loses here
            await tx.$executeRaw`SELECT 1 FROM "Device" WHERE id = ${deviceRef}::uuid FOR UPDATE`;
            await requireNewest(identity, certId, deviceRef, tx);
          },
          after: async (tx, record) => {
            await tx.certificate.update({ where: { id: record.id }, data: { replacesId: certId } });
          },
        },
      );
    } catch (e) {
      // this request again, its answer lost (or a twin of it committed first): the certificate it got, not a clone
      const again = twinRefusal(e, REENROLL_TWIN_REFUSALS)
        ? await repeatedRotation({ ...identity, certId, deviceRef, deviceId }, input)
        : null;
      if (again) return again;
      throw e;
    }
  });
}

/** Only the device's newest Client TLS certificate may re-enroll; an older one is a suspected clone (audited). */
async function requireNewest(identity: DeviceIdentity, certId: string, deviceRef: string, client: Tx = db()) {
  const newest = await client.certificate.findFirst({
    where: { deviceRef, kind: "CLIENT_TLS" },
    orderBy: { createdAt: "desc" },
    select: { id: true, serial: true },
  });
  if (newest?.id === certId) return;
  throw new DetailedRefusal("clone_suspected", "only the device's newest certificate may re-enroll; this attempt was recorded", 403, {
    deviceId: identity.deviceId,
    newestSerial: newest?.serial ?? null,
  });
}

// ---- repeats (see the top of this file) --------------------------------------------------------------------

/** What the first of two identical requests, once committed, makes the second's checks refuse with. */
const ENROLL_TWIN_REFUSALS = new Set([
  "device_exists",
  "csr_key_reused",
  "device_secret_used",
  "reset_credential_mismatch",
  "enrollment_budget_exceeded",
  "group_budget_exceeded",
]);
const REENROLL_TWIN_REFUSALS = new Set(["clone_suspected", "csr_key_reused"]);

const twinRefusal = (e: unknown, codes: Set<string>) => isUniqueViolation(e) || (e instanceof AppError && codes.has(e.code));

const REPEAT_SELECT = {
  id: true,
  serial: true,
  profile: true,
  issuerId: true,
  deviceRef: true,
  subject: true,
  spkiSha256: true,
  der: true,
  notBefore: true,
  notAfter: true,
  authorizedBy: true,
  replacesId: true,
  firstUsedAt: true,
  revokedAt: true,
} as const;

/** The CSR, when it parses, is signed by its key and names `deviceId`; else null (no repeat). */
function csrFor(input: string | Uint8Array, deviceId: string): ParsedCsr | null {
  try {
    const csr = parseCsr(input);
    return requireDeviceId(csr) === deviceId ? csr : null;
  } catch {
    return null;
  }
}

/** A certificate for the CSR's key that nobody has presented yet (the requester never got it) and is in force. */
const unusedFor = (row: RepeatRow, csr: ParsedCsr) => row.spkiSha256 === csr.spkiSha256 && !row.firstUsedAt && !row.revokedAt;

/** The device's newest Client TLS certificate (as requireNewest reads it). */
const newestClientTls = (deviceRef: string) =>
  db().certificate.findFirst({ where: { deviceRef, kind: "CLIENT_TLS" }, orderBy: { createdAt: "desc" }, select: REPEAT_SELECT });

type RepeatRow = NonNullable<Awaited<ReturnType<typeof newestClientTls>>>;

/**
 * simpleenroll again: the device id exists, active and not reset, enrolled by this credential, and its newest
 * Client TLS certificate was issued on this credential's authority for the CSR's key and never used.
 */
async function repeatedEnrollment(
  identity: DeviceIdentity,
  r: { csr: ParsedCsr; deviceId: string; authorizedBy: string; enrolledById: string | null },
): Promise<IssuedRecord | null> {
  const device = await db().device.findFirst({
    where: {
      customerId: identity.customerId,
      deviceId: r.deviceId,
      status: "ACTIVE",
      resetAt: null,
      enrolledById: r.enrolledById,
    },
    select: { id: true },
  });
  const newest = device && (await newestClientTls(device.id));
  if (!newest || newest.authorizedBy !== r.authorizedBy || !unusedFor(newest, r.csr)) return null;
  return repeated(newest, identity, { request: "simpleenroll", deviceId: r.deviceId, authorizedBy: r.authorizedBy });
}

/**
 * simplereenroll again: the device's newest Client TLS certificate replaces the authenticating one, is for the
 * CSR's key and was never used.
 */
async function repeatedRotation(
  identity: DeviceIdentity & { certId: string; deviceRef: string; deviceId: string },
  input: string | Uint8Array,
): Promise<IssuedRecord | null> {
  const csr = csrFor(input, identity.deviceId);
  const newest = csr && (await newestClientTls(identity.deviceRef));
  if (!csr || !newest || newest.replacesId !== identity.certId || !unusedFor(newest, csr)) return null;
  return repeated(newest, identity, {
    request: "simplereenroll",
    deviceId: identity.deviceId,
    authorizedBy: `client-tls:${identity.serial}`,
  });
}

/** The stored certificate as its issuance answered it (same certificate, same chain), audited as a repeat. */
async function repeated(
  row: RepeatRow,
  identity: DeviceIdentity,
  details: { request: string; deviceId: string; authorizedBy: string },
): Promise<IssuedRecord> {
  await audit(null, deviceActor(identity), {
    action: "certificate.issue_repeated",
    customerId: identity.customerId,
    target: `certificate:${row.serial}`,
    details: { profile: row.profile, ...details },
  });
  const der = Buffer.from(row.der);
  return {
    der,
    pem: toPem("CERTIFICATE", der),
    serialHex: row.serial,
    notBefore: row.notBefore,
    notAfter: row.notAfter,
    subject: row.subject,
    spkiSha256: row.spkiSha256,
    deviceId: details.deviceId,
    profile: row.profile,
    id: row.id,
    issuerId: row.issuerId,
    chainPem: await chainOf(row.issuerId),
  };
}

/** POST /.well-known/est/<profile>/simpleenroll and …/simplereenroll */
export function applicationEnroll({
  identity,
  csr: input,
  profile,
  renew = false,
  now = new Date(),
}: EnrollInput & { profile: string; renew?: boolean }): Promise<IssuedRecord> {
  return conflictOnUnique(async () => {
    if (!(APPLICATION_PROFILES as readonly string[]).includes(profile))
      throw new AppError("profile_unknown", `unknown application profile: ${profile}`, 404);
    if (identity.kind !== "CLIENT_TLS" || identity.via !== "pss" || !identity.deviceRef || !identity.deviceId)
      wrongKind(identity, "the device's Client TLS certificate");
    const { deviceRef, deviceId } = identity as DeviceIdentity & { deviceRef: string; deviceId: string };
    await limitDeviceRequests(deviceRef, now);
    const csr = parseCsr(input);
    if (requireDeviceId(csr) !== deviceId)
      throw forbidden("device_id_mismatch", "the request's device id differs from the authenticated device's");
    const profileId = getLeafProfile(profile).id as LeafProfileId;
    const previous = renew
      ? await db().certificate.findFirst({
          where: { deviceRef, kind: "APPLICATION", profile: profileId },
          orderBy: { createdAt: "desc" },
          select: { id: true },
        })
      : null;
    if (renew && !previous)
      throw new AppError("nothing_to_renew", `this device has no ${profile} certificate to renew: use simpleenroll`, 404);
    return issueInTransaction(
      {
        profile: profileId,
        csr,
        customerId: identity.customerId,
        uid: identity.uid,
        deviceId,
        device: "upsert",
        authorizedBy: `client-tls:${identity.serial}`,
        authCertId: identity.certId,
        actor: deviceActor(identity),
      },
      {
        before: (tx) => requireOwnApplicationKey(tx, csr, identity, deviceRef),
        ...(previous
          ? { after: (tx, record) => tx.certificate.update({ where: { id: record.id }, data: { replacesId: previous.id } }).then(() => {}) }
          : {}),
      },
    );
  });
}
