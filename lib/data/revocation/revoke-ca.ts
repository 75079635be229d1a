import { Prisma } from "../../../generated/prisma/client.ts";
import { ADMIN_TX_MAX_WAIT, db, type Tx } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { type RevocationReason, revocationReasonSchema } from "../../pki/crl.ts";
import { type Actor, audit } from "../audit/record.ts";
import { type CaRow, lockScopes, nextGeneration, PARENTS_FIRST } from "../ca/hierarchy.ts";
import { markCurrentRevoked } from "../fleet/current-certificate.ts";
import { publishCrlsAfterRevocation } from "./crl.ts";

export type RevokeCaInput = {
  caId: string;
  reason?: RevocationReason;
  /** revoking a customer TLS issuing CA also revokes the customer's bootstrapping certificates (default) */
  revokeBootstrap?: boolean;
  actor: Actor;
};

/**
 * The CA generations revoking `ca` revokes (SPEC §6): for a customer TLS issuing CA every generation of the
 * customer's scope not yet revoked (so every device of the customer is cut off, not only the newest
 * generation's); for any CA, every CA below those, at any depth.
 */
async function revocationSet(client: Tx, ca: CaRow): Promise<CaRow[]> {
  const set =
    ca.kind === "CUSTOMER_TLS_ISSUING"
      ? await client.certificateAuthority.findMany({ where: { scope: ca.scope, status: { not: "REVOKED" } } })
      : ca.status === "REVOKED"
        ? []
        : [ca];
  for (let frontier = set.map((c) => c.id); frontier.length; ) {
    const children = await client.certificateAuthority.findMany({ where: { parentId: { in: frontier }, status: { not: "REVOKED" } } });
    set.push(...children);
    frontier = children.map((c) => c.id);
  }
  return set;
}

/** What revoking a CA cuts off: the portal shows it before the staff member confirms. */
export async function caBlastRadius(caId: string, now = new Date()) {
  const ca = await db().certificateAuthority.findUnique({ where: { id: caId } });
  if (!ca) throw new AppError("ca_not_found", "No such CA.", 404);
  const issuers = (await revocationSet(db(), ca)).map((c) => c.id);
  const live = { issuerId: { in: issuers }, revokedAt: null, notAfter: { gt: now } };
  const [certificates, devices, bootstrap] = await Promise.all([
    db().certificate.count({ where: live }),
    db().device.count({ where: { certificates: { some: live } } }),
    ca.kind === "CUSTOMER_TLS_ISSUING" && ca.customerId
      ? db().certificate.count({ where: { customerId: ca.customerId, kind: "BOOTSTRAP", revokedAt: null, notAfter: { gt: now } } })
      : 0,
  ]);
  return { certificates, devices, bootstrapCertificates: bootstrap };
}

/**
 * The credential an open reset names (Device.resetFor): no certificate has this id, so neither an enrollment group
 * (NULL) nor any bootstrapping certificate matches it until one claims the reset (est-enroll.ts claimOpenReset).
 */
export const OPEN_RESET = "00000000-0000-0000-0000-000000000000";

/**
 * The devices a CA revocation cut off — a Client TLS certificate still live until now, issued by one of `caIds` —
 * reset for re-enrollment (SPEC §5, §6), so the fleet can come back without an admin resetting each one: with the
 * bootstrapping certificate that enrolled it while that one is still usable; when it is not (revoked with the CA, as
 * by default, or before, expired, quarantined) the reset is open (Device.resetOpen): any bootstrapping certificate
 * the customer gets from now on may claim it, once. A maker's device re-enrolls through its enrollment group. A
 * device already reset or decommissioned is left as it is.
 */
async function resetCutOffDevices(tx: Tx, caIds: string[], now: Date): Promise<number> {
  const open = Prisma.sql`(d."enrolledById" IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM "Certificate" b
      WHERE b.id = d."enrolledById" AND b."revokedAt" IS NULL AND b."quarantinedAt" IS NULL AND b."notAfter" > ${now}))`;
  return tx.$executeRaw`
    UPDATE "Device" d
    SET "resetAt" = ${now},
        "resetOpen" = ${open},
        "resetFor" = CASE WHEN ${open} THEN ${OPEN_RESET}::uuid ELSE d."enrolledById" END
    WHERE d.status = 'ACTIVE' AND d."resetAt" IS NULL
      AND EXISTS (
        SELECT 1 FROM "Certificate" c
        WHERE c."deviceRef" = d.id AND c."issuerId" = ANY(${caIds}::uuid[]) AND c.kind = 'CLIENT_TLS'
          AND c."revokedAt" = ${now} AND c."notAfter" > ${now}
      )`;
}

/** RFC 5280 §5.3.1: what a CA's compromise means for what it issued. */
const reasonBelow = (reason: RevocationReason): RevocationReason =>
  reason === "keyCompromise" || reason === "cACompromise" ? "cACompromise" : reason;

/**
 * Revoke a CA (SPEC §6): the CA in its parent's CRL, the CAs below it, every certificate they issued, by
 * default the customer's bootstrapping certificates (for a customer TLS issuing CA, whose every generation is
 * revoked), and every scope that loses its active generation gets a new one under its parent's active
 * generation — parents first — so issuance goes on. One transaction, decided under the scopes' locks (a
 * concurrent rotation or revocation of them waits); CRLs are reissued right after.
 */
export async function revokeCa(input: RevokeCaInput) {
  const reason = revocationReasonSchema.parse(input.reason ?? "cessationOfOperation");
  const found = await db().certificateAuthority.findUnique({ where: { id: input.caId } });
  if (!found) throw new AppError("ca_not_found", "No such CA.", 404);
  if (found.kind === "ROOT") throw new AppError("ca_revoke_root", "The root is the trust anchor and cannot be revoked here.", 409);
  const alreadyRevoked = () => new AppError("already_revoked", "This CA is already revoked.", 409);
  if (found.status === "REVOKED") throw alreadyRevoked();
  const now = new Date();
  const below = reasonBelow(reason);
  const result = await db().$transaction(
    async (tx) => {
      const preview = await revocationSet(tx, found);
      await lockScopes(tx, [found.scope, ...preview.map((c) => c.scope)]);
      // re-read under the locks: a revocation or rotation that finished meanwhile counts
      const ca = await tx.certificateAuthority.findUniqueOrThrow({ where: { id: found.id } });
      if (ca.status === "REVOKED") throw alreadyRevoked();
      const set = await revocationSet(tx, ca);
      const ids = set.map((c) => c.id);
      for (const c of set)
        await tx.certificateAuthority.update({
          where: { id: c.id },
          data: { status: "REVOKED", revokedAt: now, revocationReason: c.id === ca.id ? reason : below },
        });
      const leaves = await tx.certificate.updateMany({
        where: { issuerId: { in: ids }, revokedAt: null },
        data: { revokedAt: now, revocationReason: below },
      });
      // fleet denormalization: every device whose current certificate these CAs issued shows as revoked
      for (const id of ids) await markCurrentRevoked(tx, { issuerId: id });
      let bootstrap = 0;
      const bootstrapIssuers = new Set<string>();
      if (ca.kind === "CUSTOMER_TLS_ISSUING" && ca.customerId && input.revokeBootstrap !== false) {
        const boots = await tx.certificate.findMany({
          where: { customerId: ca.customerId, kind: "BOOTSTRAP", revokedAt: null },
          select: { issuerId: true },
        });
        for (const b of boots) bootstrapIssuers.add(b.issuerId);
        bootstrap = (
          await tx.certificate.updateMany({
            // issued by the Bootstrapping Issuing CA, not below the revoked one: they carry the revocation's own reason
            where: { customerId: ca.customerId, kind: "BOOTSTRAP", revokedAt: null },
            data: { revokedAt: now, revocationReason: reason },
          })
        ).count;
      }
      const devicesReset = await resetCutOffDevices(tx, ids, now);
      // a new generation for every scope that lost its active one, parents before children
      const replaced = set.filter((c) => c.status === "ACTIVE");
      replaced.sort((a, b) => PARENTS_FIRST.indexOf(a.kind) - PARENTS_FIRST.indexOf(b.kind));
      const customerNames = new Map(
        (
          await tx.customer.findMany({
            where: { id: { in: replaced.flatMap((c) => (c.customerId ? [c.customerId] : [])) } },
            select: { id: true, name: true },
          })
        ).map((c) => [c.id, c.name]),
      );
      const replacements = new Map<string, string>();
      // an application CA under a customer-supplied parent is not replaced by one under ours: its leaves must chain
      // to the customer's root, so its next generation is a new CSR for their CA (pss ca external-csr)
      for (const c of replaced.filter((r) => r.parentId !== null)) {
        const next = await nextGeneration(tx, c, c.customerId ? customerNames.get(c.customerId) : undefined, now);
        replacements.set(c.scope, next.ca.id);
      }
      const replacement = replacements.get(ca.scope) ?? null;
      await audit(tx, input.actor, {
        action: "ca.revoke",
        customerId: ca.customerId,
        target: `ca:${ca.id}`,
        details: {
          subject: ca.subject,
          reason,
          casRevoked: set.map((c) => c.subject),
          certificatesRevoked: leaves.count,
          bootstrapRevoked: bootstrap,
          devicesReset,
          replacement,
          replacements: [...replacements.values()],
        },
      });
      return {
        caId: ca.id,
        revokedAt: now,
        reason,
        casRevoked: ids.length,
        certificatesRevoked: leaves.count,
        bootstrapRevoked: bootstrap,
        devicesReset,
        replacementCaId: replacement,
        crlIssuers: new Set([...set.flatMap((c) => (c.parentId ? [c.parentId, c.id] : [c.id])), ...bootstrapIssuers]),
      };
    },
    { timeout: 60_000, maxWait: ADMIN_TX_MAX_WAIT },
  );
  await publishCrlsAfterRevocation(result.crlIssuers, now);
  const { crlIssuers: _, ...summary } = result;
  return summary;
}
