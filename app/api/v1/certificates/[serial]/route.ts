import { apiRoute, json } from "@/lib/api/http.ts";
import { requireBearer } from "@/lib/data/api/access-token.ts";
import { showCertificate } from "@/lib/data/certificates/show-certificate.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/certificates/{serial} — another customer's serial answers 404.
export const GET = apiRoute<{ serial: string }>(async (req, { serial }) => {
  const caller = await requireBearer(req);
  return json(await showCertificate(serial, caller.customerId));
});
