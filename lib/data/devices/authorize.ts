// The device API's authorizer (SPEC §5), run on every HTTP request: keep-alive and resumed TLS sessions skip
// the handshake, so nothing the handshake decided is trusted on its own.
//
// Two trust paths:
//  1. Our hierarchy: the chain must end at the TLS Root CA; the certificate is then looked up by serial and
//     its issuer compared with the row's issuer — kind, customer and device come from that row, never from
//     subject text, and the SAN UID must equal the row's UID.
//  2. Enrollment groups (plgd DPS style): a customer's own manufacturer CA. The chain is validated with the
//     group's CA as trust anchor; the group whose CA is leaf-most in the verified chain wins.
//
// Freshness: one statement per request reads the certificate row, its device and the status of every CA on
// its issuer's path in our records (concurrent requests share the statement, each reading after it asked),
// so a revocation takes effect on the next request in every process that serves the port; the set of revoked CA
// certificates (matched by DER against the path as well) is cached for at most REVOKED_CA_TTL_MS. The path of
// one of our certificates is built from our CA records, whatever intermediates the client sent. CA
// certificates and chains are immutable and cached per process.
//
// Error codes (AppError): 401 client_certificate_required; 403 the path.ts codes (chain_untrusted,
// cert_expired, cert_revoked, …), tls_chain_rejected, cert_unknown, issuer_mismatch, uid_mismatch,
// cert_superseded, bootstrap_quarantined, device_decommissioned, group_ambiguous.
import { createHash } from "node:crypto";
import { batchedRead } from "../../db/batch-reads.ts";
import { dateOf, db, driverQuery } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { log } from "../../log.ts";
import { certificateIdentity, readCertificate } from "../../pki/certificate.ts";
import { keyFingerprint, subjectDeviceId } from "../../pki/csr.ts";
import { isPkiError, PkiError } from "../../pki/errors.ts";
import { type ValidatedPath, type ValidatePathInput, validatePath } from "../../pki/path.ts";
import { type Actor, audit } from "../audit/record.ts";
import { caChainDer } from "../ca/chain.ts";
import { scheduleCrlReissue } from "../revocation/crl.ts";
import { presentedBefore, rememberPresented } from "./presented-chains.ts";

/** A revoked CA is refused at most this long after its revocation was committed. */
export const REVOKED_CA_TTL_MS = 500;
/** SPEC §5: the previous Client TLS certificate stays valid this long after its replacement was issued. */
export const SUPERSEDE_GRACE_MS = 72 * 60 * 60 * 1000;

export type CertIdentity = {
  via: "pss";
  kind: "BOOTSTRAP" | "CLIENT_TLS" | "APPLICATION";
  certId: string;
  serial: string;
  customerId: string;
  uid: string;
  spkiSha256: string;
  /** Device row id and device id (Client TLS and application certificates) */
  deviceRef: string | null;
  deviceId: string | null;
};

export type GroupIdentity = {
  via: "group";
  kind: "GROUP";
  groupId: string;
  groupName: string;
  serial: string;
  customerId: string;
  uid: string;
  spkiSha256: string;
  deviceRef: null;
  deviceId: null;
  /** the device id the manufacturer's certificate names (serialNumber, else CN), null when it names none */
  makerDeviceId: string | null;
};

export type DeviceIdentity = CertIdentity | GroupIdentity;

export type AuthorizeInput = {
  /** the client's certificate (DER) as the TLS layer received it; null: none */
  leaf: Buffer | null;
  /**
   * the certificates the client sent after its leaf. Read only for chains that are not ours (enrollment
   * groups, unknown certificates): ours are built from our CA records, which is cheaper than extracting them
   * from the TLS layer on every new connection.
   */
  presented: () => Buffer[];
  /**
   * a resumed TLS session: the client sent no certificates in it, and a maker's chain is the one its leaf came with
   * on its last full handshake, in whatever process (presented-chains.ts)
   */
  resumed?: boolean;
  /** what the TLS layer concluded about the chain against the root (socket.authorized / authorizationError) */
  tlsAuthorized: boolean;
  tlsError?: string | null;
  now?: Date;
};

const forbidden = (code: string, message: string) => new AppError(code, message, 403);

/** OpenSSL verify results that only mean "the intermediates were not sent". */
const MISSING_ISSUER = new Set(["UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"]);

/** Who is calling, or throws AppError 401/403. */
export async function authorizeDevice(input: AuthorizeInput): Promise<DeviceIdentity> {
  const leafDer = input.leaf;
  if (!leafDer) throw new AppError("client_certificate_required", "a client certificate is required", 401);
  const now = input.now ?? new Date();
  let serial: string;
  try {
    serial = certificateIdentity(leafDer).serialHex;
  } catch {
    throw forbidden("cert_malformed", "the client certificate cannot be parsed");
  }

  const row = (await certificateRow(serial)) ?? null;
  let path: CheckedPath | undefined;
  let pssError: unknown;
  if (row) {
    try {
      const [root, issuerChain, revoked] = await Promise.all([rootDer(), caChainDer(row.issuerId), revokedCas()]);
      path = await validatedPath({ leafDer, presented: [], trustedRoot: root, knownCas: issuerChain, now, requiredEku: "clientAuth" });
      if (!path.chainDer[1]?.equals(issuerChain[0]))
        throw forbidden("issuer_mismatch", "the certificate's issuer does not match our records");
      // revocation is read fresh on every request: the leaf's row, and every CA below the root
      if (row.revokedAt) throw new PkiError("cert_revoked", "the client certificate has been revoked", 403);
      if (row.revokedCas > 0) throw new PkiError("cert_revoked", "a CA certificate of the chain has been revoked", 403);
      if (path.chainDer.slice(1, -1).some((ca) => revoked.has(derKey(ca))))
        throw new PkiError("cert_revoked", "a CA certificate of the chain has been revoked", 403);
    } catch (e) {
      if (!isPkiError(e) || e.code !== "chain_untrusted") throw e;
      pssError = e;
      path = undefined;
    }
  }
  if (!path) {
    const sent = input.presented();
    const presented = !sent.length && input.resumed ? await presentedBefore(leafDer, now) : sent;
    const group = await groupIdentity(leafDer, presented, now);
    if (group) {
      // a chain that led to a group, sent on a full handshake: kept for the sessions that resume from it
      if (sent.length) await rememberPresented(leafDer, sent, now);
      return group;
    }
    if (pssError) throw pssError;
    // Validate anyway, so a well-formed chain of ours with an unknown serial, an expired or foreign chain all
    // get the most precise refusal.
    await validatePath({ leafDer, presented, trustedRoot: await rootDer(), now, requiredEku: "clientAuth" });
    throw forbidden("cert_unknown", "this certificate was not issued by this service");
  }
  // The TLS layer verified the same chain against the root and must agree (it knows nothing of revocation).
  // It knows only the root, so a client that sends just its leaf (curl --cert leaf.pem) fails there for a
  // missing issuer only; validatePath completed that chain from our CA records and verified it.
  if (!input.tlsAuthorized && !MISSING_ISSUER.has(input.tlsError ?? ""))
    throw forbidden("tls_chain_rejected", `the TLS layer rejected the chain: ${input.tlsError ?? "unknown"}`);
  if (!row?.customerId || !row.uid) throw forbidden("cert_unknown", "this certificate does not belong to a customer");
  if (row.kind !== "BOOTSTRAP" && row.kind !== "CLIENT_TLS" && row.kind !== "APPLICATION")
    throw forbidden("wrong_certificate_kind", "this kind of certificate cannot authenticate at the device API");
  if (path.leaf.uid !== row.uid) throw forbidden("uid_mismatch", "the certificate's UID does not match our records");
  if (row.kind === "BOOTSTRAP" && row.quarantinedAt)
    throw forbidden("bootstrap_quarantined", "this bootstrapping certificate is quarantined: an administrator must release or revoke it");
  if (row.deviceRef && row.device?.status !== "ACTIVE") throw forbidden("device_decommissioned", "this device is decommissioned");
  if (row.kind === "CLIENT_TLS" && row.device && path.leaf.deviceId !== row.device.deviceId)
    throw forbidden("device_id_mismatch", "the certificate's device id does not match our records");

  if (row.kind === "CLIENT_TLS") {
    await supersessionCheck(row, now);
    if (!row.firstUsedAt) await markFirstUse(row, now);
  }
  return {
    via: "pss",
    kind: row.kind,
    certId: row.id,
    serial,
    customerId: row.customerId,
    uid: row.uid,
    spkiSha256: row.spkiSha256,
    deviceRef: row.deviceRef,
    deviceId: row.device?.deviceId ?? null,
  };
}

export function deviceActor(id: DeviceIdentity): Actor {
  return { type: "device", id: id.serial, customerId: id.customerId };
}

// ---- rotation: first use of the new certificate retires the old one ------------------------------------

type AuthRow = {
  id: string;
  kind: "BOOTSTRAP" | "CLIENT_TLS" | "APPLICATION" | "SERVER" | "OCSP_RESPONDER";
  customerId: string | null;
  uid: string | null;
  issuerId: string;
  deviceRef: string | null;
  spkiSha256: string;
  revokedAt: Date | null;
  quarantinedAt: Date | null;
  firstUsedAt: Date | null;
  replacesId: string | null;
  device: { deviceId: string; status: string } | null;
  /** revoked CAs on the issuer's path in our records (the root excluded), read with the row */
  revokedCas: number;
  /** the oldest replacement of a Client TLS certificate (simplereenroll), if any */
  replFirstUsedAt: Date | null;
  replCreatedAt: Date | null;
};

/**
 * Everything the authorizer needs from the database in one statement: the certificate row, its device, the
 * revocation status of every CA above it (fresh on every request) and, for a Client TLS certificate, its
 * replacement. One round trip instead of three to four, so revocation costs nothing extra to keep fresh —
 * and concurrent requests share it (lib/db/batch-reads.ts: each answer is read after it was asked for).
 * The statement is the function device_auth_rows (migration 20261122134500_hot_reads_generic_plans), planned
 * once per session; called straight through the driver (at a few requests per batch Prisma's own work per query
 * cost more than the query). Timestamps arrive as epoch milliseconds.
 */
const certificateRow = batchedRead(async (serials: string[]) => {
  type Ms = number | null;
  const rows = await driverQuery<
    Omit<AuthRow, "device" | "revokedAt" | "quarantinedAt" | "firstUsedAt" | "replFirstUsedAt" | "replCreatedAt"> & {
      serial: string;
      deviceId: string | null;
      deviceStatus: string | null;
      revokedAt: Ms;
      quarantinedAt: Ms;
      firstUsedAt: Ms;
      replFirstUsedAt: Ms;
      replCreatedAt: Ms;
    }
  >(`SELECT * FROM device_auth_rows($1::text[])`, [serials]);
  const found = new Map<string, AuthRow>();
  for (const { serial, deviceId, deviceStatus, revokedAt, quarantinedAt, firstUsedAt, replFirstUsedAt, replCreatedAt, ...rest } of rows)
    found.set(serial, {
      ...rest,
      revokedAt: dateOf(revokedAt),
      quarantinedAt: dateOf(quarantinedAt),
      firstUsedAt: dateOf(firstUsedAt),
      replFirstUsedAt: dateOf(replFirstUsedAt),
      replCreatedAt: dateOf(replCreatedAt),
      device: deviceId !== null && deviceStatus !== null ? { deviceId, status: deviceStatus } : null,
    });
  return found;
});

type Row = { id: string; replacesId: string | null; customerId: string | null };

/** An old certificate whose replacement was used, or issued more than 72 h ago, is revoked now and refused. */
async function supersessionCheck(row: AuthRow, now: Date) {
  if (!row.replCreatedAt) return;
  if (row.replFirstUsedAt || now.getTime() - row.replCreatedAt.getTime() >= SUPERSEDE_GRACE_MS) {
    await supersede(row.id, now);
    throw forbidden("cert_superseded", "this certificate was replaced by a newer one and is no longer valid");
  }
}

async function markFirstUse(row: Row, now: Date) {
  const r = await db().certificate.updateMany({ where: { id: row.id, firstUsedAt: null }, data: { firstUsedAt: now } });
  if (r.count && row.replacesId) await supersede(row.replacesId, now);
}

/** Revoke a replaced certificate with reason superseded (idempotent); its CRL is reissued within a minute. */
export async function supersede(certId: string, now = new Date()): Promise<boolean> {
  const done = await db().$transaction(async (tx) => {
    const r = await tx.certificate.updateMany({
      where: { id: certId, revokedAt: null },
      data: { revokedAt: now, revocationReason: "superseded" },
    });
    if (!r.count) return null;
    const c = await tx.certificate.findUniqueOrThrow({ where: { id: certId }, select: { serial: true, customerId: true, issuerId: true } });
    await audit(
      tx,
      { type: "system", id: "rotation" },
      {
        action: "certificate.revoke",
        customerId: c.customerId,
        target: `certificate:${c.serial}`,
        details: { reason: "superseded" },
      },
    );
    return c;
  });
  if (done) scheduleCrlReissue(done.issuerId, (e) => log.error({ err: e, caId: done.issuerId }, "CRL reissue after supersession failed"));
  return done !== null;
}

/** How many superseded certificates one statement of the sweep finds (each is then revoked in its own transaction). */
const SWEEP_BATCH = 500;

/**
 * The scheduled sweep: old Client TLS certificates still unrevoked whose replacement is 72 h old (or used) are
 * revoked as superseded. One statement finds them, from the replacements' side (indexed on replacesId), so its
 * cost does not carry every rotation ever made into the process; a batch at a time.
 */
export async function supersedeStale(now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - SUPERSEDE_GRACE_MS);
  let n = 0;
  for (;;) {
    const old = await db().$queryRaw<{ id: string }[]>`
      SELECT DISTINCT o.id::text AS id
      FROM "Certificate" r JOIN "Certificate" o ON o.id = r."replacesId"
      WHERE r."replacesId" IS NOT NULL AND r.kind = 'CLIENT_TLS' AND o."revokedAt" IS NULL
        AND (r."createdAt" <= ${cutoff} OR r."firstUsedAt" IS NOT NULL)
      LIMIT ${SWEEP_BATCH}`;
    let revoked = 0;
    for (const o of old) if (await supersede(o.id, now)) revoked++;
    n += revoked;
    // a short batch was the last; one of which nothing was revoked (another process's sweep was first) ends the
    // run too, so it can never go round the same rows
    if (old.length < SWEEP_BATCH || revoked === 0) return n;
  }
}

// ---- trust material -------------------------------------------------------------------------------------

const derKeys = new WeakMap<Uint8Array, string>();
const derKey = (d: Uint8Array) => {
  let k = derKeys.get(d);
  if (!k) {
    k = createHash("sha256").update(d).digest("base64");
    derKeys.set(d, k);
  }
  return k;
};

/**
 * Structural path validation (signatures, names, CA constraints, EKU) of one exact chain never changes, so it
 * is cached per chain; what can change — the clock and revocation — is checked on every request by the caller
 * (dates here, revocation above). A chain outside its validity window is validated afresh for a precise error.
 */
const VALIDATED_MAX = 20_000;
/** What the authorizer reads of a validated path: kept small (DER and two strings, not parsed certificates). */
type CheckedPath = Pick<ValidatedPath, "chainDer" | "leaf">;
const validated = new Map<string, { path: CheckedPath; from: number; until: number }>();

async function validatedPath(
  input: Required<Pick<ValidatePathInput, "leafDer" | "presented" | "trustedRoot" | "knownCas" | "now" | "requiredEku">>,
) {
  const h = createHash("sha256");
  for (const d of [input.leafDer, ...input.presented, input.trustedRoot]) h.update(d);
  const key = h.digest("base64");
  const hit = validated.get(key);
  const t = input.now.getTime();
  if (hit && t >= hit.from && t <= hit.until) return hit.path;
  const full = await validatePath(input);
  const from = Math.max(...full.chain.map((c) => c.notBefore.getTime()));
  const until = Math.min(...full.chain.map((c) => c.notAfter.getTime()));
  const path: CheckedPath = { chainDer: full.chainDer, leaf: full.leaf };
  if (validated.size >= VALIDATED_MAX) validated.delete(validated.keys().next().value as string);
  validated.set(key, { path, from, until });
  return path;
}

type Cache = {
  root?: Promise<Buffer>;
  revoked?: { at: number; value: Promise<Set<string>> };
  groups?: { at: number; value: Promise<GroupRow[]> };
};
const g = globalThis as unknown as { __pssAuthCache?: Cache };
const cache = (): Cache => {
  g.__pssAuthCache ??= {};
  return g.__pssAuthCache;
};

/** The TLS Root CA certificate (the trust anchor never rotates). */
export function rootDer(): Promise<Buffer> {
  const c = cache();
  c.root ??= db()
    .certificateAuthority.findFirst({ where: { kind: "ROOT" }, orderBy: { generation: "asc" }, select: { certDer: true } })
    .then((r) => {
      if (!r) throw new AppError("ca_not_initialized", "no TLS Root CA: run `pss init` first", 503);
      return Buffer.from(r.certDer);
    });
  c.root.catch(() => {
    c.root = undefined;
  });
  return c.root;
}

/** SHA-256 (base64) of every revoked CA certificate, at most REVOKED_CA_TTL_MS old. */
function revokedCas(): Promise<Set<string>> {
  const c = cache();
  const now = Date.now();
  if (!c.revoked || now - c.revoked.at > REVOKED_CA_TTL_MS) {
    const value = db()
      .certificateAuthority.findMany({ where: { status: "REVOKED" }, select: { certDer: true } })
      .then((rows) => new Set(rows.map((r) => derKey(r.certDer))));
    c.revoked = { at: now, value };
    value.catch(() => {
      c.revoked = undefined;
    });
  }
  return c.revoked.value;
}

// ---- enrollment groups ------------------------------------------------------------------------------------

type GroupRow = { id: string; name: string; customerId: string; uid: string; caCertDer: Buffer; caSha256: string; caSubject: Buffer };

/** Enabled groups, at most REVOKED_CA_TTL_MS old (disabling a group takes effect as fast as a revocation). */
function enabledGroups(): Promise<GroupRow[]> {
  const c = cache();
  const now = Date.now();
  if (!c.groups || now - c.groups.at > REVOKED_CA_TTL_MS) {
    const value = db()
      .enrollmentGroup.findMany({
        where: { disabledAt: null },
        select: { id: true, name: true, customerId: true, uid: true, caCertDer: true, caSha256: true },
      })
      .then((rows) =>
        rows.map((r) => {
          const caCertDer = Buffer.from(r.caCertDer);
          return { ...r, caCertDer, caSubject: readCertificate(caCertDer).subject };
        }),
      );
    c.groups = { at: now, value };
    value.catch(() => {
      c.groups = undefined;
    });
  }
  return c.groups.value;
}

/**
 * The enrollment group a foreign chain belongs to: validate against each group's CA as trust anchor; among the
 * matches, the one whose anchor is closest to the leaf (the leaf-most CA of the verified chain) wins. Matches of
 * several customers, at any depth, refuse the device (fail closed): leaf-most-wins across customers would let
 * one customer register an intermediate of another's maker CA and take its devices.
 */
async function groupIdentity(leafDer: Buffer, presented: Buffer[], now: Date): Promise<GroupIdentity | null> {
  const groups = await enabledGroups();
  if (!groups.length) return null;
  // A path to a group's CA needs a certificate of the chain issued under that CA's name (path.ts checks names
  // byte for byte): only those groups are validated, not every group of every customer for each stranger.
  const issuers = [leafDer, ...presented].flatMap((der) => {
    try {
      return [readCertificate(der).issuer];
    } catch {
      return [];
    }
  });
  const candidates = groups.filter((group) => issuers.some((issuer) => issuer.equals(group.caSubject)));
  const matches: { group: GroupRow; depth: number }[] = [];
  for (const group of candidates) {
    let path: ValidatedPath;
    try {
      path = await validatePath({ leafDer, presented, trustedRoot: group.caCertDer, now, requiredEku: "clientAuth" });
    } catch (e) {
      if (isPkiError(e) && (e.code === "chain_untrusted" || e.code === "chain_too_long")) continue;
      throw e;
    }
    matches.push({ group, depth: path.chain.length });
  }
  if (!matches.length) return null;
  if (new Set(matches.map((m) => m.group.customerId)).size > 1)
    throw forbidden("group_ambiguous", "the certificate's chain leads to enrollment groups of several customers");
  const best = matches.reduce((a, b) => (b.depth < a.depth ? b : a));
  const { group } = best;
  const identity = certificateIdentity(leafDer);
  const leaf = readCertificate(leafDer);
  return {
    via: "group",
    kind: "GROUP",
    groupId: group.id,
    groupName: group.name,
    serial: identity.serialHex,
    customerId: group.customerId,
    uid: group.uid,
    spkiSha256: keyFingerprint(leaf.spki),
    deviceRef: null,
    deviceId: null,
    makerDeviceId: subjectDeviceId(leaf.subject),
  };
}
