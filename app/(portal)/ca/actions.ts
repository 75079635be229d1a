"use server";

import { revalidatePath } from "next/cache";
import { type ActionState, failed, formValues, invalid } from "@/lib/actions/action-state.ts";
import { requireRole } from "@/lib/auth/session.ts";
import { rotateCa } from "@/lib/data/ca/hierarchy.ts";
import { revokeCustomerIssuingCa } from "@/lib/data/ca/revoke-customer-issuing-ca.ts";
import { isAppError } from "@/lib/errors.ts";
import { revokeCaSchema, rotateCaSchema } from "@/lib/validations/ca.ts";

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
