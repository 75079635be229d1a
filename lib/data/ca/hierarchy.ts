// The CA hierarchy of SPEC §2, persisted: create it (idempotent), create a customer's CAs, find the
// active CA of a scope, rotate a CA to a new generation, and the scheduled check that rotates what is due.
import { randomUUID } from "node:crypto";
import type { CaKind, CertificateAuthority } from "../../../generated/prisma/client.ts";
import { ADMIN_TX_MAX_WAIT, bytes, type Tx as DbTx, db } from "../../db/client.ts";
import { env } from "../../env.ts";
import { AppError, isAppError, isUniqueViolation } from "../../errors.ts";
import { log } from "../../log.ts";
import { issueCaCertificate, readCertificate } from "../../pki/certificate.ts";
import { isPkiError } from "../../pki/errors.ts";
import { CUSTOMER_CN, checkCustomerName, type SubjectFields } from "../../pki/names.ts";
import { ocspIssuerHashes } from "../../pki/ocsp.ts";
import { addValidity, CA_PROFILES, type CaProfileId, LEAF_PROFILES, type LeafProfileId, type Validity } from "../../pki/profiles.ts";
import type { Signer } from "../../pki/signer.ts";
import { type Actor, audit } from "../audit/record.ts";
import { keyStore, keyStoreIn } from "./key-store.ts";

type Tx = DbTx;
export type CaRow = CertificateAuthority;
export type ActiveCa = { ca: CaRow; signer: Signer };

const DAY = 86_400_000;

/** The application CA profiles every customer gets (SPEC §3: v1 ships c2pa). */
export const APPLICATION_PROFILES = ["c2pa"] as const;

/**
 * What each kind of CA is: its profile, its parent kind, when it is due for rotation, and what it issues — CA kinds
 * and leaf profiles, whose longest validity (+ 30 days) is the life a CA must have left (SPEC §2).
 */
const CA_SPEC: Record<
  CaKind,
  { profile: CaProfileId; parent: CaKind | null; rotateAfterDays?: number; childKinds: CaKind[]; leaves: readonly LeafProfileId[] }
> = {
  ROOT: { profile: "root", parent: null, childKinds: ["BOOTSTRAP_INTERMEDIATE", "TLS_INTERMEDIATE"], leaves: [] },
  BOOTSTRAP_INTERMEDIATE: {
    profile: "bootstrap-intermediate",
    parent: "ROOT",
    rotateAfterDays: 365,
    childKinds: ["BOOTSTRAP_ISSUING"],
    leaves: [],
  },
  BOOTSTRAP_ISSUING: {
    profile: "bootstrap-issuing",
    parent: "BOOTSTRAP_INTERMEDIATE",
    rotateAfterDays: 90,
    childKinds: [],
    leaves: ["bootstrap"],
  },
  TLS_INTERMEDIATE: {
    profile: "tls-intermediate",
    parent: "ROOT",
    rotateAfterDays: 365,
    childKinds: ["CUSTOMER_TLS_ISSUING", "APPLICATION"],
    leaves: ["server"],
  },
  CUSTOMER_TLS_ISSUING: { profile: "customer-tls-issuing", parent: "TLS_INTERMEDIATE", childKinds: [], leaves: ["client-tls"] },
  APPLICATION: { profile: "application-ca", parent: "TLS_INTERMEDIATE", childKinds: [], leaves: APPLICATION_PROFILES },
};

const SYSTEM_CN: Partial<Record<CaKind, string>> = {
  ROOT: "TLS Root CA",
  BOOTSTRAP_INTERMEDIATE: "Bootstrapping Intermediate CA",
  BOOTSTRAP_ISSUING: "Bootstrapping Issuing CA",
  TLS_INTERMEDIATE: "TLS Intermediate CA",
};

export type CaScope = { kind: CaKind; customerId?: string | null; application?: string | null };

export function scopeKey(s: CaScope): string {
  return `${s.kind}:${s.customerId ?? "-"}:${s.application ?? "-"}`;
}

/** The scope a CA generation belongs to. */
export const scopeOf = (ca: Pick<CaRow, "kind" | "customerId" | "profile">): CaScope => ({
  kind: ca.kind,
  customerId: ca.customerId,
  application: ca.profile,
});

/** CA kinds below the root, parents before children: the order rotations and revocation cascades walk. */
export const PARENTS_FIRST: CaKind[] = [
  "BOOTSTRAP_INTERMEDIATE",
  "TLS_INTERMEDIATE",
  "BOOTSTRAP_ISSUING",
  "CUSTOMER_TLS_ISSUING",
  "APPLICATION",
];

/**
 * Lock the CA rows of these scopes until the transaction ends (in one order, so two callers cannot deadlock):
 * rotations and revocations of one scope then run one after the other, each seeing the other's outcome.
 */
export async function lockScopes(tx: Tx, scopes: string[]): Promise<void> {
  const sorted = [...new Set(scopes)].sort();
  await tx.$executeRaw`SELECT 1 FROM "CertificateAuthority" WHERE scope = ANY(${sorted}::text[]) ORDER BY scope, generation FOR UPDATE`;
}

/**
 * Inside a write transaction: which of these CAs are still active, holding a share lock on their rows so
 * a concurrent revocation (which updates the CA row first) waits for this commit and then revokes what it wrote.
 */
export async function lockActiveIssuers(tx: Tx, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await tx.$queryRaw<{ id: string }[]>`
    SELECT id::text AS id FROM "CertificateAuthority" WHERE id = ANY(${ids}::uuid[]) AND status = 'ACTIVE' FOR SHARE`;
  return new Set(rows.map((r) => r.id));
}

/** A new generation of a CA's scope, signed by the active generation of its parent's scope. */
export async function nextGeneration(tx: Tx, ca: CaRow, customerName: string | undefined, now: Date): Promise<ActiveCa> {
  const parent = await activeCa({ kind: CA_SPEC[ca.kind].parent! }, tx);
  return createCa(tx, scopeOf(ca), parent, customerName, now);
}

export function subjectFor(s: CaScope, generation: number, customerName?: string): SubjectFields {
  const prefix = env().PSS_SUBJECT_PREFIX;
  if (s.kind === "CUSTOMER_TLS_ISSUING")
    return { organization: customerName!, commonName: CUSTOMER_CN.tlsIssuingCa(customerName!, generation, prefix) };
  if (s.kind === "APPLICATION")
    return { organization: customerName!, commonName: CUSTOMER_CN.applicationCa(customerName!, s.application!, generation, prefix) };
  return { organization: prefix, commonName: `${prefix} ${SYSTEM_CN[s.kind]} G${generation}` };
}

/** Create one CA generation inside `tx`: new key in the key store, certificate signed by `parent`, row. */
export async function createCa(tx: Tx, s: CaScope, parent: ActiveCa | null, customerName?: string, now = new Date()): Promise<ActiveCa> {
  const spec = CA_SPEC[s.kind];
  const last = await tx.certificateAuthority.findFirst({
    where: { scope: scopeKey(s) },
    orderBy: { generation: "desc" },
    select: { generation: true },
  });
  const generation = (last?.generation ?? 0) + 1;
  // the parent stays active until this commits: a revocation of it in flight (which locks its row first) waits,
  // then revokes this CA with the rest; one that committed first is seen here
  if (parent && !(await lockActiveIssuers(tx, [parent.ca.id])).has(parent.ca.id))
    throw new AppError("ca_parent_changed", "The parent CA was rotated or revoked meanwhile; try again.", 409);
  const id = randomUUID();
  const keyRef = `ca/${id}`;
  // every CA key is P-256 but the root's, which may be P-384 (SPEC §2)
  const algorithm = s.kind === "ROOT" ? env().PSS_ROOT_KEY_ALGORITHM : "ECDSA-P256";
  const signer = await (await keyStoreIn(tx)).generate(keyRef, algorithm);
  const cert = await issueCaCertificate({
    profile: spec.profile,
    subject: subjectFor(s, generation, customerName),
    subjectKey: signer,
    ...(parent
      ? { issuer: { certDer: parent.ca.certDer, signer: parent.signer }, publicUrl: env().revocationUrl, issuerId: parent.ca.id }
      : {}),
    now,
  });
  const hashes = ocspIssuerHashes(cert.der);
  const ca = await tx.certificateAuthority.create({
    data: {
      id,
      kind: s.kind,
      profile: s.application ?? null,
      customerId: s.customerId ?? null,
      scope: scopeKey(s),
      generation,
      subject: cert.subject,
      parentId: parent?.ca.id ?? null,
      certDer: bytes(cert.der),
      serial: cert.serialHex,
      ski: readCertificate(cert.der).ski?.toString("hex") ?? "",
      keyRef,
      keyAlgorithm: signer.algorithm,
      keyHashSha1: hashes.sha1.issuerKeyHash,
      keyHashSha256: hashes.sha256.issuerKeyHash,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
    },
  });
  return { ca, signer };
}

/**
 * The active CA of a scope with its signer, or null. Inside a transaction (`client` = tx) the key is read
 * through the transaction too: PGlite has one connection, and a CA created in the same transaction is
 * invisible outside it.
 */
export async function findActiveCa(s: CaScope, client: Tx = db()): Promise<ActiveCa | null> {
  const ca = await client.certificateAuthority.findFirst({
    where: { scope: scopeKey(s), status: "ACTIVE" },
    orderBy: { generation: "desc" },
  });
  if (!ca) return null;
  const store = client === db() ? await keyStore() : await keyStoreIn(client);
  return { ca, signer: await store.signer(ca.keyRef) };
}

export async function activeCa(s: CaScope, client: Tx = db()): Promise<ActiveCa> {
  const found = await findActiveCa(s, client);
  if (!found) throw new AppError("ca_not_initialized", `no active ${s.kind} CA: run \`pss init\` (or onboard the customer) first`, 409);
  return found;
}

const SYSTEM_KINDS: CaKind[] = ["ROOT", "BOOTSTRAP_INTERMEDIATE", "BOOTSTRAP_ISSUING", "TLS_INTERMEDIATE"];

/**
 * `pss init`: create the TLS Root CA, the Bootstrapping Intermediate and Issuing CAs and the TLS
 * Intermediate CA — whichever do not exist yet. Idempotent, and safe when several processes race.
 */
export async function ensureHierarchy(actor: Actor = { type: "system", id: "init" }): Promise<{ created: CaKind[] }> {
  const existing = await db().certificateAuthority.findMany({
    where: { kind: { in: SYSTEM_KINDS }, status: "ACTIVE" },
    select: { kind: true },
  });
  if (SYSTEM_KINDS.every((k) => existing.some((e) => e.kind === k))) return { created: [] };
  try {
    return await db().$transaction(
      async (tx) => {
        // one initializer at a time: two processes starting on a fresh database each found no root, and the one
        // that committed second created a second active root (generation 2) beside the first
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended('ca:ensure-hierarchy', 0))`;
        const created: CaKind[] = [];
        const active = new Map<CaKind, ActiveCa>();
        for (const kind of SYSTEM_KINDS) {
          const found = await findActiveCa({ kind }, tx);
          if (found) {
            active.set(kind, found);
            continue;
          }
          const parentKind = CA_SPEC[kind].parent;
          const ca = await createCa(tx, { kind }, parentKind ? active.get(parentKind)! : null);
          active.set(kind, ca);
          created.push(kind);
          await audit(tx, actor, { action: "ca.create", target: `ca:${ca.ca.id}`, details: { kind, subject: ca.ca.subject } });
        }
        return { created };
      },
      { timeout: 60_000, maxWait: ADMIN_TX_MAX_WAIT },
    );
  } catch (e) {
    if (isUniqueViolation(e)) return { created: [] }; // another process initialized it at the same time
    throw e;
  }
}

/** Onboarding: the customer's TLS Issuing CA and its Application CAs, inside the onboarding transaction. */
export async function createCustomerCas(tx: Tx, customer: { id: string; name: string }, actor: Actor): Promise<CaRow[]> {
  checkCustomerName(customer.name, env().PSS_SUBJECT_PREFIX, APPLICATION_PROFILES);
  const tlsIntermediate = await activeCa({ kind: "TLS_INTERMEDIATE" }, tx);
  const scopes: CaScope[] = [
    { kind: "CUSTOMER_TLS_ISSUING", customerId: customer.id },
    ...APPLICATION_PROFILES.map((application) => ({ kind: "APPLICATION" as const, customerId: customer.id, application })),
  ];
  const rows: CaRow[] = [];
  for (const s of scopes) {
    const { ca } = await createCa(tx, s, tlsIntermediate, customer.name);
    await audit(tx, actor, {
      action: "ca.create",
      customerId: customer.id,
      target: `ca:${ca.id}`,
      details: { kind: s.kind, subject: ca.subject },
    });
    rows.push(ca);
  }
  return rows;
}

/**
 * Rotate a CA: a new generation (new key, new subject suffix) becomes active under its parent's
 * active generation; the old one is retired — it keeps signing CRLs and answering OCSP for what it issued.
 */
export async function rotateCa(caId: string, actor: Actor, now = new Date()): Promise<{ retired: CaRow; active: CaRow }> {
  const old = await db().certificateAuthority.findUnique({ where: { id: caId }, include: { customer: { select: { name: true } } } });
  if (!old) throw new AppError("ca_not_found", "No such CA.", 404);
  if (old.kind === "ROOT")
    throw new AppError("ca_rotate_root", "The root is the trust anchor: rotating it is a re-keying ceremony, not a rotation.", 409);
  if (old.parentId === null)
    throw new AppError(
      "ca_external_parent",
      "This CA's parent is the customer's: request a new CSR (pss ca external-csr) and import what their CA signs.",
      409,
    );
  const notActive = () => new AppError("ca_not_active", "This CA generation is no longer active; rotate the active one.", 409);
  if (old.status === "RETIRED") throw notActive();
  try {
    return await db().$transaction(
      async (tx) => {
        // decided under the scope's lock: a concurrent rotation or revocation has finished, or waits for this one
        await lockScopes(tx, [old.scope]);
        const current = await tx.certificateAuthority.findUniqueOrThrow({ where: { id: old.id } });
        const active = await tx.certificateAuthority.count({ where: { scope: old.scope, status: "ACTIVE" } });
        // a revoked generation may be rotated only to recover a scope left without an active one
        if (current.status === "RETIRED" || (current.status === "REVOKED" && active > 0)) throw notActive();
        const retired =
          current.status === "ACTIVE"
            ? await tx.certificateAuthority.update({ where: { id: old.id }, data: { status: "RETIRED", retiredAt: now } })
            : current;
        const { ca } = await nextGeneration(tx, old, old.customer?.name, now);
        await audit(tx, actor, {
          action: "ca.rotate",
          customerId: old.customerId,
          target: `ca:${ca.id}`,
          details: { from: old.subject, to: ca.subject },
        });
        return { retired, active: ca };
      },
      { timeout: 60_000, maxWait: ADMIN_TX_MAX_WAIT },
    );
  } catch (e) {
    if (isUniqueViolation(e)) throw new AppError("ca_rotation_in_progress", "Another rotation of this CA finished first.", 409);
    throw e;
  }
}

/**
 * Why an active CA is due for rotation now, or null (SPEC §2 rules). `parentNotAfter`: its issuer's end, which
 * clamps a new generation — when that leaves no more life than the margin, rotating would not help (the issuer's own
 * rotation comes first), so the CA is not due for lack of life.
 */
export function rotationDue(ca: Pick<CaRow, "kind" | "createdAt" | "notAfter">, now = new Date(), parentNotAfter?: Date): string | null {
  const spec = CA_SPEC[ca.kind];
  if (ca.kind === "ROOT") return null;
  if (spec.rotateAfterDays && now.getTime() - ca.createdAt.getTime() >= spec.rotateAfterDays * DAY)
    return `older than ${spec.rotateAfterDays} days`;
  // "Rotated once it has less than its longest child validity + 30 days left": past that, what it issues is cut short
  // (clamped to its end), and at its end every certificate under it stops working. Only meaningful where the CA
  // outlives its children by more than that margin.
  const span = (v: Validity) => addValidity(now, v).getTime() - now.getTime();
  const children = [
    ...spec.childKinds.map((k) => CA_PROFILES[CA_SPEC[k].profile].validity),
    ...spec.leaves.map((l) => LEAF_PROFILES[l].validity),
  ];
  if (!children.length) return null;
  const margin = Math.max(...children.map(span)) + 30 * DAY;
  const left = (d: Date) => d.getTime() - now.getTime();
  if (
    span(CA_PROFILES[spec.profile].validity) > margin &&
    left(ca.notAfter) < margin &&
    !(parentNotAfter && left(parentNotAfter) <= margin)
  )
    return "less than its longest child validity + 30 days left";
  return null;
}

/**
 * For each kind of CA, the end of the active generation of its issuer's kind: what clamps a new generation of it
 * (rotationDue's `parentNotAfter`). The CA's own issuer may be a retired generation that ends sooner.
 */
export async function activeParentEnds(client: DbTx = db()): Promise<Map<CaKind, Date>> {
  const active = await client.certificateAuthority.findMany({
    where: { status: "ACTIVE", customerId: null },
    select: { kind: true, notAfter: true },
  });
  const end = new Map(active.map((ca) => [ca.kind, ca.notAfter]));
  const out = new Map<CaKind, Date>();
  for (const [kind, spec] of Object.entries(CA_SPEC) as [CaKind, (typeof CA_SPEC)[CaKind]][]) {
    const parentEnd = spec.parent ? end.get(spec.parent) : undefined;
    if (parentEnd) out.set(kind, parentEnd);
  }
  return out;
}

export type DueRotations = {
  rotated: { id: string; subject: string; reason: string }[];
  /** due CAs whose rotation failed (logged): `code` is the AppError/PkiError code, or "internal" */
  failed: { id: string; subject: string; reason: string; code: string }[];
};

/**
 * The scheduled check: rotate every active CA that is due, parents before children. One CA's failure (its key
 * store, a subject grown too long under a new PSS_SUBJECT_PREFIX) is logged and reported, and the others still rotate.
 */
export async function rotateDueCas(actor: Actor = { type: "system", id: "scheduler" }, now = new Date()): Promise<DueRotations> {
  const rotated: DueRotations["rotated"] = [];
  const failed: DueRotations["failed"] = [];
  for (const kind of PARENTS_FIRST) {
    const cas = await db().certificateAuthority.findMany({ where: { kind, status: "ACTIVE" } });
    // read after the parents' own rotations above: a new generation is clamped by the parent active now
    const parentEnd = (await activeParentEnds()).get(kind);
    for (const ca of cas) {
      const reason = rotationDue(ca, now, parentEnd);
      if (!reason) continue;
      // under a customer-supplied parent only the customer's CA can sign the next generation: listed as due, not rotated
      if (ca.parentId === null) {
        log.warn({ caId: ca.id, subject: ca.subject, reason }, "a customer-signed CA is due: request a new CSR (pss ca external-csr)");
        continue;
      }
      try {
        const { active } = await rotateCa(ca.id, actor, now);
        rotated.push({ id: active.id, subject: active.subject, reason });
      } catch (e) {
        // another process's scheduler (or an operator) rotated or revoked it meanwhile
        if (e instanceof AppError && (e.code === "ca_not_active" || e.code === "ca_rotation_in_progress")) continue;
        const code = isAppError(e) || isPkiError(e) ? e.code : "internal";
        log.error(
          { caId: ca.id, subject: ca.subject, reason, code, err: e instanceof Error ? e.message : String(e) },
          "due CA rotation failed",
        );
        failed.push({ id: ca.id, subject: ca.subject, reason, code });
      }
    }
  }
  return { rotated, failed };
}
