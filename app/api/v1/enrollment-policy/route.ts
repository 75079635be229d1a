import { apiRoute, endpointUrls, json, readBody } from "@/lib/api/http.ts";
import { requireAdmin, requireBearer } from "@/lib/data/api/access-token.ts";
import { signedChange } from "@/lib/data/api/signed-payload.ts";
import { showEnrollmentPolicies, updateEnrollmentPolicy } from "@/lib/data/enrollment/manage-policy.ts";
import { enrollmentPolicyPayloadSchema } from "@/lib/validations/api.ts";

export const dynamic = "force-dynamic";

const PATH = "/api/v1/enrollment-policy";

// GET /api/v1/enrollment-policy — the customer's policies (customer-wide and per bootstrapping certificate) and
// its quarantined bootstrapping certificates (SPEC §5).
export const GET = apiRoute(async (req) => {
  const caller = await requireBearer(req);
  return json(await showEnrollmentPolicies(caller.customerId));
});

// PUT /api/v1/enrollment-policy — the customer-wide policy, as a JWS-signed payload; a field left out keeps its value.
export const PUT = apiRoute(async (req) => {
  const caller = await requireBearer(req);
  requireAdmin(caller);
  const {
    nonce: _n,
    iat: _i,
    ...fields
  } = await signedChange(caller.user.id, await readBody(req), enrollmentPolicyPayloadSchema, endpointUrls(req, PATH));
  return json(await updateEnrollmentPolicy({ customerId: caller.customerId, ...fields }, caller.actor));
});
