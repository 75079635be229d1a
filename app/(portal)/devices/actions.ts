"use server";

import { revalidatePath } from "next/cache";
import { type ActionState, failed, formValues, invalid } from "@/lib/actions/action-state.ts";
import { requireRole } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { decommissionDevice } from "@/lib/data/fleet/decommission-device.ts";
import { decommissionDeviceSchema } from "@/lib/validations/revocation.ts";

/** Staff or a customer admin decommissions a device: every certificate it holds is revoked. Viewers: 403. */
export async function decommissionDeviceAction(
  _prev: ActionState<{ certificatesRevoked: number }>,
  form: FormData,
): Promise<ActionState<{ certificatesRevoked: number }>> {
  const user = await requireRole("STAFF", "CUSTOMER_ADMIN");
  try {
    const parsed = decommissionDeviceSchema.safeParse(formValues(form));
    if (!parsed.success) return invalid(parsed.error);
    const r = await decommissionDevice({
      deviceRef: parsed.data.deviceRef,
      reason: parsed.data.reason,
      customerId: tenantOf(user),
      actor: { type: "user", id: user.id, customerId: user.customerId },
    });
    revalidatePath(`/devices/${parsed.data.deviceRef}`);
    revalidatePath("/devices");
    return { status: "ok", data: r, message: `Device decommissioned: ${r.certificatesRevoked} certificates revoked.` };
  } catch (e) {
    return failed(e, "device.decommission");
  }
}
