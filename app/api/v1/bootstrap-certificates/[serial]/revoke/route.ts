import { apiRoute, json, readJson } from "@/lib/api/http.ts";
import { requireAdmin, requireBearer } from "@/lib/data/api/access-token.ts";
import { revokeBootstrapCertificate } from "@/lib/data/revocation/revoke-bootstrap-certificate.ts";
import { revokeBootstrapRequestSchema } from "@/lib/validations/api.ts";

export const dynamic = "force-dynamic";

// POST — revoke a bootstrapping certificate, optionally with every Client TLS certificate it enrolled after a moment.
export const POST = apiRoute<{ serial: string }>(async (req, { serial }) => {
  const caller = await requireBearer(req);
  requireAdmin(caller);
  const body = await readJson(req, revokeBootstrapRequestSchema);
  return json(
    await revokeBootstrapCertificate({
      serial,
      reason: body.reason,
      ...(body.alsoRevokeDevicesEnrolledAfter ? { alsoRevokeDevicesEnrolledAfter: new Date(body.alsoRevokeDevicesEnrolledAfter) } : {}),
      customerId: caller.customerId,
      actor: caller.actor,
    }),
  );
});
