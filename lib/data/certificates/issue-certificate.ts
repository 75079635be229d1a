// The one issuance use case every front end calls (customer API, device listener, CLI, portal):
// find the active issuer of the profile → the signing core's pipeline (parse, verify, validate, build,
// sign) → store the certificate, its device link and the audit event in one transaction.
// A refusal stores nothing but a "refused" audit event.
import { randomUUID } from "node:crypto";
import type { CertKind, Prisma } from "../../../generated/prisma/client.ts";
import { bytes, db, type Tx } from "../../db/client.ts";
import { env } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { metrics } from "../../metrics.ts";
import { type IssuedCertificate, issueCertificate } from "../../pki/certificate.ts";
import { type ParsedCsr, parseCsr } from "../../pki/csr.ts";
import { isPkiError } from "../../pki/errors.ts";
import type { LeafProfileId } from "../../pki/profiles.ts";
import { type Actor, audit, auditRow } from "../audit/record.ts";
import { chainOf } from "../ca/chain.ts";
import { type ActiveCa, activeCa, type CaScope, lockActiveIssuers, scopeKey } from "../ca/hierarchy.ts";
import { writeIssuance } from "./write-batch.ts";

export type IssueRequest = {
  profile: LeafProfileId;
  csr: string | Uint8Array | ParsedCsr;
  /** the customer the certificate is for (every profile but server) */
  customerId?: string;
  /** the customer user's UID, carried in the SAN */
  uid?: string;
  /** a device id the caller vouches for (mTLS: from the authenticating certificate) */
  deviceId?: string;
  /** "create": the device must be new (EST simpleenroll); "upsert" (default): create or rotate */
  device?: "create" | "upsert";
  /** what authorized this issuance: "bootstrap:<serial>", "key:<kid>", "cli", … */
  authorizedBy?: string;
  /**
   * the certificate (row id) that authenticated the request over mutual TLS: the write refuses (cert_revoked)
   * if it was revoked or quarantined after the authorizer read it, decided under a share lock on its row
   */
  authCertId?: string;
  /** the bootstrapping certificate (row id) that enrolls a new device */
  enrolledById?: string;
  /**
   * SPEC §5 key newness: refuse (csr_key_reused) a key already certified for anything, decided in the writing
   * transaction under the key's lock, so two concurrent requests with one key cannot both pass
   */
  requireNewKey?: boolean;
  /** server profile names */
  dnsNames?: string[];
  ipAddresses?: string[];
  actor: Actor;
};

export type IssuedRecord = IssuedCertificate & { id: string; issuerId: string; chainPem: string[] };

const KIND: Record<LeafProfileId, CertKind> = {
  bootstrap: "BOOTSTRAP",
  "client-tls": "CLIENT_TLS",
  c2pa: "APPLICATION",
  server: "SERVER",
  "ocsp-responder": "OCSP_RESPONDER",
};

function issuerScope(profile: LeafProfileId, customerId?: string): CaScope {
  switch (profile) {
    case "bootstrap":
      return { kind: "BOOTSTRAP_ISSUING" };
    case "client-tls":
      return { kind: "CUSTOMER_TLS_ISSUING", customerId };
    case "c2pa":
      return { kind: "APPLICATION", customerId, application: profile };
    default:
      return { kind: "TLS_INTERMEDIATE" };
  }
}

/** Issue one certificate and store it. Throws AppError/PkiError with a stable code on refusal. */
export async function issueAndStore(req: IssueRequest): Promise<IssuedRecord> {
  try {
    return await issueBatched(req);
  } catch (e) {
    await refused(req, e);
    throw e;
  }
}

/**
 * issueAndStore without the refusal audit (for callers that audit refusals themselves, like EST): sign, then
 * store through the group-commit writer; a rotation of the issuer while signing is retried once.
 */
export async function issueBatched(req: IssueRequest): Promise<IssuedRecord> {
  const started = performance.now();
  const record = await retryOnNewIssuer(req, async () => writeIssuance(req, await prepare(req)));
  metrics.certificatesIssued.inc({ profile: req.profile });
  metrics.issueSeconds.observe({ profile: req.profile }, (performance.now() - started) / 1000);
  return record;
}

/**
 * Runs `signAndStore` (prepare, then a write that re-checks the issuer under a lock); when the issuer it signed
 * with was rotated or revoked meanwhile (this process's cached active CA is a few seconds old at most), once more
 * with the current one.
 */
export async function retryOnNewIssuer<T>(req: IssueRequest, signAndStore: () => Promise<T>): Promise<T> {
  try {
    return await signAndStore();
  } catch (e) {
    if (!(e instanceof AppError && e.code === "issuer_changed")) throw e;
    activeCas.delete(scopeKey(issuerScope(req.profile, req.customerId)));
    return await signAndStore();
  }
}

export type Prepared = { issuer: ActiveCa; cert: IssuedCertificate; chainPem: string[] };

/** Everything that needs no write: customer, issuer, the signed certificate. */
export async function prepare(req: IssueRequest): Promise<Prepared> {
  const needsCustomer = req.profile !== "server";
  if (needsCustomer && !req.customerId) throw new AppError("customer_required", `the ${req.profile} profile needs a customer`, 400);
  const customer = req.customerId ? await customerName(req.customerId) : null;
  if (needsCustomer && !customer) throw new AppError("customer_not_found", "No such customer.", 404);
  const issuer = await cachedActiveCa(issuerScope(req.profile, req.customerId));
  const e = env();
  const cert = await issueCertificate({
    csr: typeof req.csr === "string" || req.csr instanceof Uint8Array ? parseCsr(req.csr) : req.csr,
    profile: req.profile,
    issuer: { certDer: issuer.ca.certDer, signer: issuer.signer },
    uid: req.uid,
    customerName: customer?.name ?? e.PSS_SUBJECT_PREFIX,
    subjectPrefix: e.PSS_SUBJECT_PREFIX,
    deviceId: req.deviceId,
    dnsNames: req.dnsNames,
    ipAddresses: req.ipAddresses,
    publicUrl: e.revocationUrl,
    issuerId: issuer.ca.id,
  });
  return { issuer, cert, chainPem: await chainOf(issuer.ca.id) };
}

// Customer names never change once onboarded, so the name is read once per process.
const customerNames = new Map<string, { name: string }>();

async function customerName(id: string): Promise<{ name: string } | null> {
  const cached = customerNames.get(id);
  if (cached) return cached;
  const row = await db().customer.findUnique({ where: { id }, select: { name: true } });
  if (row) customerNames.set(id, row);
  return row;
}

// The active CA of a scope, remembered for a few seconds: signing needs no lock. Correctness does not rest
// on this cache — every write re-checks, under a row lock, that its issuer is still active (lockActiveIssuers).
const ACTIVE_CA_TTL_MS = 5_000;
const activeCas = new Map<string, { at: number; ca: Promise<ActiveCa> }>();

function cachedActiveCa(scope: CaScope): Promise<ActiveCa> {
  const key = scopeKey(scope);
  const hit = activeCas.get(key);
  if (hit && performance.now() - hit.at < ACTIVE_CA_TTL_MS) return hit.ca;
  const ca = activeCa(scope);
  activeCas.set(key, { at: performance.now(), ca });
  ca.catch(() => activeCas.delete(key));
  return ca;
}

/** A key's advisory-lock id: the first 64 bits of its SPKI SHA-256, as PostgreSQL's signed bigint. */
const keyLockId = (spkiSha256: string) => BigInt.asIntN(64, BigInt(`0x${spkiSha256.slice(0, 16)}`));

/**
 * Key newness (SPEC §5: not a key already certified for any device), decided atomically inside the issuing
 * transaction: take a transaction-scoped advisory lock on each key (in one order, so two batches sharing keys
 * cannot deadlock), then look for certificates of them. A concurrent issuance of the same key waits at the
 * lock until this one commits, and then finds its certificate. Returns the keys already certified.
 * (The embedded PGlite runs one transaction at a time: there the lock never waits and the look-up suffices.)
 */
export async function lockCertifiedKeys(tx: Tx, spkiSha256: string[]): Promise<Set<string>> {
  if (spkiSha256.length === 0) return new Set();
  const ids = [...new Set(spkiSha256.map(keyLockId))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(k) FROM unnest(${ids}::text[]::bigint[]) WITH ORDINALITY AS t(k, i) ORDER BY i`;
  const rows = await tx.$queryRaw<{ spki: string }[]>`
    SELECT DISTINCT "spkiSha256" AS spki FROM "Certificate" WHERE "spkiSha256" = ANY(${spkiSha256}::text[])`;
  return new Set(rows.map((r) => r.spki));
}

export const keyCertified = () => new AppError("csr_key_reused", "this key is already certified: generate a new key pair", 400);

export const issuerChanged = () =>
  new AppError("issuer_changed", "The issuing CA was rotated or revoked while signing; retry the request.", 503);

/** The certificate and audit rows of one issuance (ids chosen here, so batches need no RETURNING). */
export function issuanceRows(req: IssueRequest, { issuer, cert }: Prepared, deviceRef: string | null, id: string = randomUUID()) {
  const certificate: Prisma.CertificateCreateManyInput & { id: string } = {
    id,
    serial: cert.serialHex,
    kind: KIND[req.profile],
    profile: req.profile,
    issuerId: issuer.ca.id,
    customerId: req.customerId ?? null,
    deviceRef,
    uid: req.uid ?? null,
    subject: cert.subject,
    spkiSha256: cert.spkiSha256,
    der: bytes(cert.der),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    authorizedBy: req.authorizedBy ?? null,
  };
  const auditEvent = auditRow(req.actor, {
    action: "certificate.issue",
    customerId: req.customerId ?? null,
    target: `certificate:${cert.serialHex}`,
    details: { profile: req.profile, deviceId: cert.deviceId ?? null, issuer: issuer.ca.subject, authorizedBy: req.authorizedBy ?? null },
  });
  return { certificate, auditEvent };
}

/**
 * Fleet denormalization (lib/data/fleet/list-devices.ts): a Client TLS issuance becomes its device's current
 * certificate, copied onto the Device row so the fleet filters and sorts by index alone. Nothing for other profiles.
 */
export type CurrentCertFields = {
  currentCertId: string;
  currentSerial: string;
  currentNotAfter: Date;
  currentRevokedAt: null;
  uid: string | null;
};
export function currentCertFields(req: IssueRequest, cert: IssuedCertificate, certId: string): CurrentCertFields | Record<string, never> {
  if (req.profile !== "client-tls") return {};
  return {
    currentCertId: certId,
    currentSerial: cert.serialHex,
    currentNotAfter: cert.notAfter,
    currentRevokedAt: null,
    uid: req.uid ?? null,
  };
}

/** The writes of one issuance, inside the caller's transaction (the manufacturing batch puts many in one). */
export async function store(tx: Tx, req: IssueRequest, prepared: Prepared): Promise<IssuedRecord> {
  const { cert, issuer, chainPem } = prepared;
  if (!(await lockActiveIssuers(tx, [issuer.ca.id])).has(issuer.ca.id)) throw issuerChanged();
  if (req.requireNewKey && (await lockCertifiedKeys(tx, [cert.spkiSha256])).size) throw keyCertified();
  if (req.authCertId) await lockAuthCertificate(tx, req.authCertId);
  let deviceRef: string | null = null;
  // chosen here so the device row can point at its current certificate (fleet denormalization)
  const certId = randomUUID();
  if (cert.deviceId && req.customerId) {
    const key = { customerId_deviceId: { customerId: req.customerId, deviceId: cert.deviceId } };
    // under a lock: a decommissioning (which updates the device row first) is seen here, or waits. A first
    // enrollment (create) may re-enroll a reset device and then update its row: it locks the row for update,
    // so two of them queue instead of deadlocking on a share lock each
    const [existing] =
      req.device === "create"
        ? await tx.$queryRaw<DeviceState[]>`
          SELECT status::text AS status, "resetAt" IS NOT NULL AS reset, "resetFor"::text AS "resetFor" FROM "Device"
          WHERE "customerId" = ${req.customerId}::uuid AND "deviceId" = ${cert.deviceId} FOR UPDATE`
        : await tx.$queryRaw<DeviceState[]>`
          SELECT status::text AS status, "resetAt" IS NOT NULL AS reset, "resetFor"::text AS "resetFor" FROM "Device"
          WHERE "customerId" = ${req.customerId}::uuid AND "deviceId" = ${cert.deviceId} FOR SHARE`;
    // a device id an admin reset enrolls once more (SPEC §5), as the same device, with the credential the reset names
    const reenroll = req.device === "create" && existing?.reset === true;
    if (existing && req.device === "create" && !reenroll) throw deviceExists(cert.deviceId);
    if (reenroll && existing?.resetFor !== (req.enrolledById ?? null)) throw resetCredentialMismatch();
    if (existing && existing.status !== "ACTIVE") throw deviceDecommissioned();
    const device = existing
      ? await tx.device.update({
          where: key,
          data: {
            ...(req.profile === "client-tls" ? { lastRotatedAt: new Date(), ...currentCertFields(req, cert, certId) } : {}),
            ...(reenroll
              ? { enrolledById: req.enrolledById ?? null, enrolledAt: new Date(), resetAt: null, resetFor: null, resetOpen: false }
              : {}),
          },
          select: { id: true },
        })
      : await tx.device.create({
          data: {
            customerId: req.customerId,
            deviceId: cert.deviceId,
            enrolledById: req.enrolledById ?? null,
            ...currentCertFields(req, cert, certId),
          },
          select: { id: true },
        });
    deviceRef = device.id;
  }
  const rows = issuanceRows(req, prepared, deviceRef, certId);
  await tx.certificate.create({ data: rows.certificate, select: { id: true } });
  await tx.auditEvent.create({ data: rows.auditEvent });
  return { ...cert, id: rows.certificate.id, issuerId: issuer.ca.id, chainPem };
}

type DeviceState = { status: string; reset: boolean; resetFor: string | null };

export const resetCredentialMismatch = () =>
  new AppError(
    "reset_credential_mismatch",
    "this device id was reset for re-enrollment with another bootstrapping certificate (or its enrollment group)",
    403,
  );

export const deviceExists = (deviceId: string) => new AppError("device_exists", `device ${deviceId} has already enrolled`, 409);

export const deviceDecommissioned = () => new AppError("device_decommissioned", "this device is decommissioned", 403);

export const authRevoked = () =>
  new AppError("cert_revoked", "the client certificate was revoked or quarantined while the request was processed", 403);

/** The authenticating certificate, still neither revoked nor quarantined, share-locked until the write commits. */
async function lockAuthCertificate(tx: Tx, certId: string): Promise<void> {
  const ok = await tx.$queryRaw<{ ok: number }[]>`
    SELECT 1 AS ok FROM "Certificate" WHERE id = ${certId}::uuid AND "revokedAt" IS NULL AND "quarantinedAt" IS NULL FOR SHARE`;
  if (!ok.length) throw authRevoked();
}

async function refused(req: IssueRequest, e: unknown) {
  if (!(e instanceof AppError)) return;
  metrics.refusals.inc({ code: e.code });
  await audit(null, req.actor, {
    action: "certificate.issue",
    outcome: "refused",
    customerId: req.customerId ?? null,
    details: { profile: req.profile, code: e.code, message: e.message, pki: isPkiError(e) },
  }).catch(() => {});
}
