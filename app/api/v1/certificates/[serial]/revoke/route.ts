import { apiRoute, json, readJson } from "@/lib/api/http.ts";
import { requireAdmin, requireBearer } from "@/lib/data/api/access-token.ts";
import { revokeCertificate } from "@/lib/data/revocation/revoke-certificate.ts";
import { revokeRequestSchema } from "@/lib/validations/api.ts";

export const dynamic = "force-dynamic";

// POST /api/v1/certificates/{serial}/revoke {"reason"} — another customer's serial answers 404.
export const POST = apiRoute<{ serial: string }>(async (req, { serial }) => {
  const caller = await requireBearer(req);
  requireAdmin(caller);
  const { reason } = await readJson(req, revokeRequestSchema);
  const r = await revokeCertificate({ serial, reason, customerId: caller.customerId, actor: caller.actor });
  return json({ serial: r.serial, revokedAt: r.revokedAt.toISOString(), reason: r.reason });
});
