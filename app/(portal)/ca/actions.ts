"use server";

import { revalidatePath } from "next/cache";
import { type ActionState, failed, formValues, invalid } from "@/lib/actions/action-state.ts";
import { requireRole } from "@/lib/auth/session.ts";
import { importExternalApplicationCa, requestExternalApplicationCa } from "@/lib/data/ca/external-ca.ts";
import { rotateCa } from "@/lib/data/ca/hierarchy.ts";
import { revokeCustomerIssuingCa } from "@/lib/data/ca/revoke-customer-issuing-ca.ts";
import { isAppError } from "@/lib/errors.ts";
import { importExternalCaSchema, requestExternalCaSchema, revokeCaSchema, rotateCaSchema } from "@/lib/validations/ca.ts";

export type RotateResult = { subject: string };
export type RevokeCaResult = { certificatesRevoked: number; bootstrapRevoked: number; replacementCaId: string | null };

/** Staff: make a new generation of a CA active now; the old one retires. */
export async function rotateCaAction(_prev: ActionState<RotateResult>, form: FormData): Promise<ActionState<RotateResult>> {
  const user = await requireRole("STAFF");
  try {
    const parsed = rotateCaSchema.safeParse(formValues(form));
    if (!parsed.success) return invalid(parsed.error);
    const { active } = await rotateCa(parsed.data.caId, { type: "user", id: user.id, customerId: null });
    revalidatePath("/ca");
    revalidatePath("/customers", "layout");
    return { status: "ok", data: { subject: active.subject }, message: `Rotated: ${active.subject} is active.` };
  } catch (e) {
    return failed(e, "ca.rotate");
  }
}

/** Staff: revoke a customer's TLS issuing CA after the blast-radius confirmation; a new generation becomes active. */
export async function revokeCaAction(_prev: ActionState<RevokeCaResult>, form: FormData): Promise<ActionState<RevokeCaResult>> {
  const user = await requireRole("STAFF");
  try {
    const parsed = revokeCaSchema.safeParse(formValues(form));
    if (!parsed.success) return invalid(parsed.error);
    const r = await revokeCustomerIssuingCa(
      { ...parsed.data, revokeBootstrap: parsed.data.revokeBootstrap === "on" },
      {
        type: "user",
        id: user.id,
        customerId: null,
      },
    );
    revalidatePath("/ca");
    revalidatePath("/customers", "layout");
    return { status: "ok", data: r };
  } catch (e) {
    if (isAppError(e) && e.code === "confirmation_mismatch") return { status: "invalid", fieldErrors: { confirmName: [e.message] } };
    return failed(e, "ca.revoke");
  }
}

/** Staff: a new key and CSR for a customer's application CA under the customer's own CA. */
export async function requestExternalCaAction(
  _prev: ActionState<{ subject: string }>,
  form: FormData,
): Promise<ActionState<{ subject: string }>> {
  const user = await requireRole("STAFF");
  try {
    const parsed = requestExternalCaSchema.safeParse(formValues(form));
    if (!parsed.success) return invalid(parsed.error);
    const req = await requestExternalApplicationCa({ ...parsed.data, actor: { type: "user", id: user.id, customerId: null } });
    revalidatePath(`/customers/${parsed.data.customerId}`);
    return { status: "ok", data: { subject: req.subject }, message: `CSR ready for ${req.subject}.` };
  } catch (e) {
    return failed(e, "ca.external.request");
  }
}

/** Staff: import what the customer's CA signed; refused with the reason (and nothing written) unless every check passes. */
export async function importExternalCaAction(
  _prev: ActionState<{ subject: string }>,
  form: FormData,
): Promise<ActionState<{ subject: string }>> {
  const user = await requireRole("STAFF");
  try {
    const parsed = importExternalCaSchema.safeParse(formValues(form));
    if (!parsed.success) return invalid(parsed.error);
    const ca = await importExternalApplicationCa({ ...parsed.data, actor: { type: "user", id: user.id, customerId: null } });
    revalidatePath("/ca");
    revalidatePath("/customers", "layout");
    return {
      status: "ok",
      data: { subject: ca.subject },
      message: `Imported: ${ca.subject} is active, under the customer's root with SHA-256 ${ca.rootSha256} (confirm it with the customer).`,
    };
  } catch (e) {
    return failed(e, "ca.external.import");
  }
}
