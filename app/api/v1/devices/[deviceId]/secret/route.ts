import { apiRoute, endpointUrls, json, readBody } from "@/lib/api/http.ts";
import { requireAdmin, requireBearer } from "@/lib/data/api/access-token.ts";
import { signedChange } from "@/lib/data/api/signed-payload.ts";
import { addDeviceSecret } from "@/lib/data/enrollment/manage-policy.ts";
import { deviceSecretPayloadSchema } from "@/lib/validations/api.ts";

export const dynamic = "force-dynamic";

// POST /api/v1/devices/{deviceId}/secret — the device's one-time enrollment secret (its CSR's challengePassword,
// SPEC §5), as a JWS-signed payload {nonce, iat, secret?}, replacing any earlier one; answered once, only its hash
// is kept.
export const POST = apiRoute<{ deviceId: string }>(async (req, { deviceId }) => {
  const caller = await requireBearer(req);
  requireAdmin(caller);
  const path = `/api/v1/devices/${encodeURIComponent(deviceId)}/secret`;
  const { secret } = await signedChange(caller.user.id, await readBody(req), deviceSecretPayloadSchema, endpointUrls(req, path));
  return json(await addDeviceSecret({ customerId: caller.customerId, deviceId, ...(secret ? { secret } : {}) }, caller.actor), 201);
});
