// Application CAs under a customer-supplied parent (SPEC §2): staff request one (a new key in the key store and
// a CSR for it), the customer's CA signs it, staff import the certificate with the customer's chain. Once the
// checks pass it becomes the active generation of the customer's application CA for that profile, in one
// transaction with its audit event; what it issues chains to the customer's root, and it signs its own CRLs and
// OCSP answers like any of our CAs.
import { randomUUID } from "node:crypto";
import { ADMIN_TX_MAX_WAIT, bytes, db } from "../../db/client.ts";
import { AppError, isUniqueViolation } from "../../errors.ts";
import { readCertificate } from "../../pki/certificate.ts";
import { pemCertificates, splitDer, toPem } from "../../pki/der.ts";
import { checkExternalCa, createCaCsr, customerRoot } from "../../pki/external-ca.ts";
import { formatName, subjectAttributes } from "../../pki/names.ts";
import { ocspIssuerHashes } from "../../pki/ocsp.ts";
import { LEAF_PROFILES, type LeafProfileId } from "../../pki/profiles.ts";
import { type Actor, audit } from "../audit/record.ts";
import { APPLICATION_PROFILES, type CaRow, type CaScope, lockScopes, scopeKey, subjectFor } from "./hierarchy.ts";
import { keyStore, keyStoreIn } from "./key-store.ts";

export type ExternalCaRequest = { pendingId: string; subject: string; generation: number; csrPem: string };

function applicationScope(customerId: string, application: string): CaScope {
  if (!(APPLICATION_PROFILES as readonly string[]).includes(application))
    throw new AppError("profile_unknown", `no application profile ${application} (profiles: ${APPLICATION_PROFILES.join(", ")})`, 400);
  return { kind: "APPLICATION", customerId, application };
}

/**
 * A new key for the customer's application CA of `application`, and the CSR to send to the customer's CA. A
 * newer request for the same CA replaces an older one still pending (its CSR can no longer be imported).
 */
export async function requestExternalApplicationCa(input: {
  customerId: string;
  application: string;
  actor: Actor;
}): Promise<ExternalCaRequest> {
  const scope = applicationScope(input.customerId, input.application);
  const customer = await db().customer.findUnique({ where: { id: input.customerId }, select: { id: true, name: true } });
  if (!customer) throw new AppError("customer_not_found", "No such customer.", 404);
  const id = randomUUID();
  return db().$transaction(
    async (tx) => {
      await lockScopes(tx, [scopeKey(scope)]);
      const last = await tx.certificateAuthority.findFirst({
        where: { scope: scopeKey(scope) },
        orderBy: { generation: "desc" },
        select: { generation: true },
      });
      const generation = (last?.generation ?? 0) + 1;
      // an older request still pending is void: its key goes with it (a token object stays, unreferenced)
      const older = await tx.pendingCa.findMany({ where: { scope: scopeKey(scope) }, select: { keyRef: true } });
      await tx.keyMaterial.deleteMany({ where: { ref: { in: older.map((p) => p.keyRef) } } });
      const replaced = await tx.pendingCa.deleteMany({ where: { scope: scopeKey(scope) } });
      const subject = subjectFor(scope, generation, customer.name);
      const keyRef = `ca/${id}`;
      const signer = await (await keyStoreIn(tx)).generate(keyRef, "ECDSA-P256");
      const csr = await createCaCsr(subject, signer);
      const pending = await tx.pendingCa.create({
        data: {
          id,
          customerId: customer.id,
          profile: input.application,
          scope: scopeKey(scope),
          generation,
          subject: formatName(subjectAttributes(subject)),
          keyRef,
          csrDer: bytes(csr),
        },
      });
      await audit(tx, input.actor, {
        action: "ca.external.request",
        customerId: customer.id,
        target: `pending-ca:${id}`,
        details: { application: input.application, generation, subject: pending.subject, replacedPending: replaced.count },
      });
      return { pendingId: id, subject: pending.subject, generation, csrPem: toPem("CERTIFICATE REQUEST", csr) };
    },
    { timeout: 60_000, maxWait: ADMIN_TX_MAX_WAIT },
  );
}

/** The pending requests of a customer (or all), newest first, with their CSRs. */
export async function listPendingCas(customerId?: string) {
  const rows = await db().pendingCa.findMany({ where: customerId ? { customerId } : {}, orderBy: { createdAt: "desc" } });
  return rows.map(({ csrDer, ...r }) => ({ ...r, createdAt: r.createdAt.toISOString(), csrPem: toPem("CERTIFICATE REQUEST", csrDer) }));
}

/** A customer's CAs under a parent of the customer's own, newest first, each with the root its chain ends at. */
export async function listExternalCas(customerId: string) {
  const rows = await db().certificateAuthority.findMany({
    where: { customerId, externalChain: { not: null } },
    orderBy: { generation: "desc" },
    select: { id: true, subject: true, status: true, notAfter: true, externalChain: true },
  });
  return rows.map(({ externalChain, ...ca }) => {
    const root = customerRoot(splitDer(externalChain ?? new Uint8Array()));
    return { ...ca, notAfter: ca.notAfter.toISOString(), rootSubject: root.subject, rootSha256: root.sha256 };
  });
}

/**
 * Import the certificate the customer's CA signed for a pending request, with the customer's chain up to their
 * root (`chainPem`; the chain may also follow the certificate in `certPem`). Refused with a code and nothing
 * written unless every check of `checkExternalCa` passes.
 */
export async function importExternalApplicationCa(input: {
  pendingId: string;
  certPem: string;
  chainPem?: string;
  /** the SHA-256 (hex) of the customer's root as the customer gave it out of band: the chain must end there */
  rootSha256?: string;
  actor: Actor;
  now?: Date;
}): Promise<CaRow & { rootSha256: string }> {
  const now = input.now ?? new Date();
  const pending = await db().pendingCa.findUnique({ where: { id: input.pendingId }, include: { customer: { select: { name: true } } } });
  if (!pending)
    throw new AppError("pending_ca_not_found", "No such pending CA request (imported, replaced by a newer one, or never made).", 404);
  const [certDer, ...rest] = pemCertificates(input.certPem);
  if (!certDer) throw new AppError("external_ca_malformed", "expected the CA certificate as a PEM CERTIFICATE block", 400);
  const chainDer = [...rest, ...pemCertificates(input.chainPem ?? "")];
  const scope = applicationScope(pending.customerId, pending.profile);
  const signer = await (await keyStore()).signer(pending.keyRef);
  const checked = await checkExternalCa({
    certDer,
    chainDer,
    spki: signer.spki,
    subject: subjectFor(scope, pending.generation, pending.customer.name),
    leafEku: LEAF_PROFILES[pending.profile as LeafProfileId].extendedKeyUsage[0],
    now,
  });
  if (input.rootSha256 !== undefined && input.rootSha256.replace(/[:\s]/g, "").toLowerCase() !== checked.rootSha256)
    throw new AppError("external_ca_root_mismatch", `the chain ends at a root with SHA-256 ${checked.rootSha256}, not the one given`, 400);
  const hashes = ocspIssuerHashes(certDer);
  try {
    return await db().$transaction(
      async (tx) => {
        await lockScopes(tx, [pending.scope]);
        // another import of this request (or a newer request) finished first
        if (!(await tx.pendingCa.findUnique({ where: { id: pending.id }, select: { id: true } })))
          throw new AppError("pending_ca_not_found", "This request was imported or replaced meanwhile.", 409);
        const retired = await tx.certificateAuthority.updateMany({
          where: { scope: pending.scope, status: "ACTIVE" },
          data: { status: "RETIRED", retiredAt: now },
        });
        const ca = await tx.certificateAuthority.create({
          data: {
            id: pending.keyRef.slice("ca/".length),
            kind: "APPLICATION",
            profile: pending.profile,
            customerId: pending.customerId,
            scope: pending.scope,
            generation: pending.generation,
            subject: checked.subject,
            parentId: null,
            externalChain: bytes(Buffer.concat(checked.chainDer)),
            certDer: bytes(certDer),
            serial: checked.serialHex,
            ski: readCertificate(certDer).ski?.toString("hex") ?? "",
            keyRef: pending.keyRef,
            keyAlgorithm: signer.algorithm,
            keyHashSha1: hashes.sha1.issuerKeyHash,
            keyHashSha256: hashes.sha256.issuerKeyHash,
            notBefore: checked.notBefore,
            notAfter: checked.notAfter,
          },
        });
        await tx.pendingCa.delete({ where: { id: pending.id } });
        await audit(tx, input.actor, {
          action: "ca.external.import",
          customerId: pending.customerId,
          target: `ca:${ca.id}`,
          details: {
            application: pending.profile,
            subject: ca.subject,
            customerRoot: customerRoot(checked.chainDer).subject,
            customerRootSha256: checked.rootSha256,
            retiredGenerations: retired.count,
          },
        });
        return { ...ca, rootSha256: checked.rootSha256 };
      },
      { timeout: 60_000, maxWait: ADMIN_TX_MAX_WAIT },
    );
  } catch (e) {
    if (isUniqueViolation(e)) throw new AppError("external_ca_conflict", "A newer generation of this CA exists: request a new CSR.", 409);
    throw e;
  }
}
