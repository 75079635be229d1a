import "server-only";
import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import type { RevocationReason } from "../../pki/crl.ts";
import { isUuid } from "../../validations/common.ts";
import type { Actor } from "../audit/record.ts";
import { caBlastRadius, revokeCa } from "../revocation/revoke-ca.ts";

/** The revoke-confirmation page's data: the CA, its customer and what revoking it cuts off. */
export async function customerIssuingCaForRevocation(caId: string) {
  if (!isUuid(caId)) throw new AppError("ca_not_found", "No such CA.", 404);
  const ca = await db().certificateAuthority.findUnique({
    where: { id: caId },
    select: { id: true, kind: true, status: true, subject: true, generation: true, customer: { select: { id: true, name: true } } },
  });
  if (ca?.kind !== "CUSTOMER_TLS_ISSUING" || !ca.customer) throw new AppError("ca_not_found", "No such customer TLS issuing CA.", 404);
  return { ca, customer: ca.customer, blast: await caBlastRadius(ca.id) };
}

/**
 * Portal-side guard around revokeCa: only a customer TLS issuing CA, and only when the typed
 * confirmation matches the customer's name (the server checks it, not just the form).
 */
export async function revokeCustomerIssuingCa(
  input: { caId: string; reason: RevocationReason; revokeBootstrap: boolean; confirmName: string },
  actor: Actor,
) {
  const { ca, customer } = await customerIssuingCaForRevocation(input.caId);
  if (ca.status === "REVOKED") throw new AppError("already_revoked", "This CA is already revoked.", 409);
  if (input.confirmName.trim() !== customer.name)
    throw new AppError("confirmation_mismatch", `Type the customer name "${customer.name}" exactly to confirm.`, 400);
  const r = await revokeCa({ caId: ca.id, reason: input.reason, revokeBootstrap: input.revokeBootstrap, actor });
  return { certificatesRevoked: r.certificatesRevoked, bootstrapRevoked: r.bootstrapRevoked, replacementCaId: r.replacementCaId };
}
