import { apiRoute, json, readJson } from "@/lib/api/http.ts";
import { requireAdmin, requireBearer } from "@/lib/data/api/access-token.ts";
import { resetDevice } from "@/lib/data/fleet/decommission-device.ts";
import { resetDeviceRequestSchema } from "@/lib/validations/api.ts";

export const dynamic = "force-dynamic";

// POST /api/v1/devices/{deviceId}/reset {"reason", "bootstrapSerial"?} — every certificate the device holds is revoked
// and its next simpleenroll, with the bootstrapping certificate that enrolled it (or the one named), re-enrolls it
// (SPEC §5). Another customer's device id answers 404.
export const POST = apiRoute<{ deviceId: string }>(async (req, { deviceId }) => {
  const caller = await requireBearer(req);
  requireAdmin(caller);
  const { reason, bootstrapSerial } = await readJson(req, resetDeviceRequestSchema);
  return json(
    await resetDevice({
      deviceId,
      reason,
      ...(bootstrapSerial ? { bootstrapSerial } : {}),
      customerId: caller.customerId,
      actor: caller.actor,
    }),
  );
});
