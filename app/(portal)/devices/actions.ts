"use server";

import { revalidatePath } from "next/cache";
import type { z } from "zod";
import { type ActionState, failed, formValues, invalid } from "@/lib/actions/action-state.ts";
import { requireRole } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { decommissionDevice, resetDevice } from "@/lib/data/fleet/decommission-device.ts";
import type { RevocationReason } from "@/lib/pki/crl.ts";
import { decommissionDeviceSchema, resetDeviceSchema } from "@/lib/validations/revocation.ts";

type Outcome = ActionState<{ certificatesRevoked: number }>;

/**
 * Staff or a customer admin changes a device's life: both changes revoke every certificate it holds. Viewers: 403;
 * another customer's device: 404.
 */
async function deviceAction(
  form: FormData,
  schema: z.ZodType<{ deviceRef: string; reason: RevocationReason; bootstrapSerial?: string }>,
  run: typeof resetDevice,
  done: (revoked: number) => string,
  action: string,
): Promise<Outcome> {
  const user = await requireRole("STAFF", "CUSTOMER_ADMIN");
  try {
    const parsed = schema.safeParse(formValues(form));
    if (!parsed.success) return invalid(parsed.error);
    const named = parsed.data.bootstrapSerial;
    const r = await run({
      deviceRef: parsed.data.deviceRef,
      reason: parsed.data.reason,
      ...(named ? { bootstrapSerial: named } : {}),
      customerId: tenantOf(user),
      actor: { type: "user", id: user.id, customerId: user.customerId },
    });
    revalidatePath(`/devices/${parsed.data.deviceRef}`);
    revalidatePath("/devices");
    return { status: "ok", data: r, message: done(r.certificatesRevoked) };
  } catch (e) {
    return failed(e, action);
  }
}

/** Decommission: every certificate the device holds is revoked and it enrolls no more. */
export async function decommissionDeviceAction(_prev: Outcome, form: FormData): Promise<Outcome> {
  return deviceAction(
    form,
    decommissionDeviceSchema,
    decommissionDevice,
    (n) => `Device decommissioned: ${n} certificates revoked.`,
    "device.decommission",
  );
}

/** Reset the device id (SPEC §5): every certificate it holds is revoked and its next simpleenroll re-enrolls it. */
export async function resetDeviceAction(_prev: Outcome, form: FormData): Promise<Outcome> {
  return deviceAction(
    form,
    resetDeviceSchema,
    resetDevice,
    (n) => `Device id reset: ${n} certificates revoked; its next enrollment re-enrolls it.`,
    "device.reset",
  );
}
