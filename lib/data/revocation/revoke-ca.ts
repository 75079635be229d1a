import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { type RevocationReason, revocationReasonSchema } from "../../pki/crl.ts";
import { type Actor, audit } from "../audit/record.ts";
import { createCa, findActiveCa } from "../ca/hierarchy.ts";
import { markCurrentRevoked } from "../fleet/current-certificate.ts";
import { publishCrl } from "./crl.ts";

export type RevokeCaInput = {
  caId: string;
  reason?: RevocationReason;
  /** revoking a customer TLS issuing CA also revokes the customer's bootstrapping certificates (default) */
  revokeBootstrap?: boolean;
  actor: Actor;
};

/** What revoking a CA cuts off: the portal shows it before the staff member confirms. */
export async function caBlastRadius(caId: string, now = new Date()) {
  const ca = await db().certificateAuthority.findUnique({ where: { id: caId }, select: { id: true, kind: true, customerId: true } });
  if (!ca) throw new AppError("ca_not_found", "No such CA.", 404);
  const live = { issuerId: caId, revokedAt: null, notAfter: { gt: now } };
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
 * Revoke a CA (SPEC §6): the CA in its parent's CRL, every certificate it issued, by default the customer's
 * bootstrapping certificates, and — for a customer TLS issuing CA — a new generation becomes active so
 * the customer can provision again. One transaction; CRLs are reissued right after.
 */
export async function revokeCa(input: RevokeCaInput) {
  const reason = revocationReasonSchema.parse(input.reason ?? "cessationOfOperation");
  const ca = await db().certificateAuthority.findUnique({
    where: { id: input.caId },
    include: { customer: { select: { id: true, name: true } } },
  });
  if (!ca) throw new AppError("ca_not_found", "No such CA.", 404);
  if (ca.kind === "ROOT") throw new AppError("ca_revoke_root", "The root is the trust anchor and cannot be revoked here.", 409);
  if (ca.status === "REVOKED") throw new AppError("already_revoked", "This CA is already revoked.", 409);
  const now = new Date();
  const isCustomerTls = ca.kind === "CUSTOMER_TLS_ISSUING";
  const result = await db().$transaction(
    async (tx) => {
      await tx.certificateAuthority.update({ where: { id: ca.id }, data: { status: "REVOKED", revokedAt: now, revocationReason: reason } });
      const leaves = await tx.certificate.updateMany({
        where: { issuerId: ca.id, revokedAt: null },
        data: { revokedAt: now, revocationReason: reason },
      });
      // fleet denormalization: every device whose current certificate this CA issued shows as revoked
      await markCurrentRevoked(tx, { issuerId: ca.id });
      let bootstrap = 0;
      const bootstrapIssuers = new Set<string>();
      if (isCustomerTls && ca.customerId && input.revokeBootstrap !== false) {
        const boots = await tx.certificate.findMany({
          where: { customerId: ca.customerId, kind: "BOOTSTRAP", revokedAt: null },
          select: { issuerId: true },
        });
        for (const b of boots) bootstrapIssuers.add(b.issuerId);
        bootstrap = (
          await tx.certificate.updateMany({
            where: { customerId: ca.customerId, kind: "BOOTSTRAP", revokedAt: null },
            data: { revokedAt: now, revocationReason: reason },
          })
        ).count;
      }
      let replacement: string | null = null;
      if (isCustomerTls && ca.customer) {
        const parent = await findActiveCa({ kind: "TLS_INTERMEDIATE" }, tx);
        if (!parent) throw new AppError("ca_not_initialized", "no active TLS intermediate", 409);
        replacement = (await createCa(tx, { kind: ca.kind, customerId: ca.customerId }, parent, ca.customer.name, now)).ca.id;
      }
      await audit(tx, input.actor, {
        action: "ca.revoke",
        customerId: ca.customerId,
        target: `ca:${ca.id}`,
        details: { subject: ca.subject, reason, certificatesRevoked: leaves.count, bootstrapRevoked: bootstrap, replacement },
      });
      return {
        caId: ca.id,
        revokedAt: now,
        reason,
        certificatesRevoked: leaves.count,
        bootstrapRevoked: bootstrap,
        replacementCaId: replacement,
        bootstrapIssuers,
      };
    },
    { timeout: 60_000 },
  );
  for (const id of [ca.parentId, ca.id, ...result.bootstrapIssuers]) if (id) await publishCrl(id, now);
  const { bootstrapIssuers: _, ...summary } = result;
  return summary;
}
