"use server";

import { revalidatePath } from "next/cache";
import { type ActionState, failed, formValues, invalid } from "@/lib/actions/action-state.ts";
import { requireRole } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { revokeCertificate } from "@/lib/data/revocation/revoke-certificate.ts";
import { revokeCertificateSchema } from "@/lib/validations/revocation.ts";

/** Staff or a customer admin revokes one certificate; a customer admin only their own customer's (404 otherwise). Viewers: 403. */
export async function revokeCertificateAction(
  _prev: ActionState<{ serial: string }>,
  form: FormData,
): Promise<ActionState<{ serial: string }>> {
  const user = await requireRole("STAFF", "CUSTOMER_ADMIN");
  try {
    const parsed = revokeCertificateSchema.safeParse(formValues(form));
    if (!parsed.success) return invalid(parsed.error);
    const r = await revokeCertificate({
      serial: parsed.data.serial,
      reason: parsed.data.reason,
      customerId: tenantOf(user),
      actor: { type: "user", id: user.id, customerId: user.customerId },
    });
    revalidatePath(`/certificates/${r.serial}`);
    revalidatePath("/devices", "layout");
    return { status: "ok", data: { serial: r.serial }, message: "Certificate revoked." };
  } catch (e) {
    return failed(e, "certificate.revoke");
  }
}
