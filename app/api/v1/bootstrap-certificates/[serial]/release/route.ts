import { apiRoute, endpointUrls, json, readBody } from "@/lib/api/http.ts";
import { requireAdmin, requireBearer } from "@/lib/data/api/access-token.ts";
import { signedChange } from "@/lib/data/api/signed-payload.ts";
import { releaseBootstrap } from "@/lib/data/enrollment/manage-policy.ts";
import { releasePayloadSchema } from "@/lib/validations/api.ts";

export const dynamic = "force-dynamic";

// POST /api/v1/bootstrap-certificates/{serial}/release — lift the quarantine a spent budget or a closed window put
// on a bootstrapping certificate (SPEC §5), as a JWS-signed payload {nonce, iat}. 409 not_quarantined; another
// customer's serial answers 404.
export const POST = apiRoute<{ serial: string }>(async (req, { serial }) => {
  const caller = await requireBearer(req);
  requireAdmin(caller);
  await signedChange(
    caller.user.id,
    await readBody(req),
    releasePayloadSchema,
    endpointUrls(req, `/api/v1/bootstrap-certificates/${serial}/release`),
  );
  return json(await releaseBootstrap(caller.customerId, serial, caller.actor));
});
