import { apiRoute, endpointUrls, json, readBody } from "@/lib/api/http.ts";
import { requireAdmin, requireBearer } from "@/lib/data/api/access-token.ts";
import { signedChange } from "@/lib/data/api/signed-payload.ts";
import { updateEnrollmentPolicy } from "@/lib/data/enrollment/manage-policy.ts";
import { enrollmentPolicyPayloadSchema } from "@/lib/validations/api.ts";

export const dynamic = "force-dynamic";

// PUT /api/v1/bootstrap-certificates/{serial}/policy — one bootstrapping certificate's policy (it adds to the
// customer-wide one), as a JWS-signed payload; a field left out keeps its value. Another customer's serial: 404.
export const PUT = apiRoute<{ serial: string }>(async (req, { serial }) => {
  const caller = await requireBearer(req);
  requireAdmin(caller);
  const path = `/api/v1/bootstrap-certificates/${serial}/policy`;
  const {
    nonce: _n,
    iat: _i,
    ...fields
  } = await signedChange(caller.user.id, await readBody(req), enrollmentPolicyPayloadSchema, endpointUrls(req, path));
  return json(await updateEnrollmentPolicy({ customerId: caller.customerId, bootstrapSerial: serial, ...fields }, caller.actor));
});
