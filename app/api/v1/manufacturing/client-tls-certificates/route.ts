import { apiRoute, clientIp, endpointUrls, json, readBody } from "@/lib/api/http.ts";
import { requireBearer } from "@/lib/data/api/access-token.ts";
import { issueClientTlsBatch } from "@/lib/data/certificates/issue-client-tls-batch.ts";
import { API_LIMITS } from "@/lib/validations/api.ts";

export const dynamic = "force-dynamic";

const PATH = "/api/v1/manufacturing/client-tls-certificates";

// POST — up to 1000 Client TLS certificates, all or nothing, Idempotency-Key aware (SPEC §4).
export const POST = apiRoute(async (req) => {
  const caller = await requireBearer(req, { ownLimit: "batch" });
  const key = req.headers.get("idempotency-key");
  const r = await issueClientTlsBatch({
    caller,
    body: await readBody(req, API_LIMITS.batchBodyBytes),
    url: endpointUrls(req, PATH),
    ...(key === null ? {} : { idempotencyKey: key }),
    ip: clientIp(req),
  });
  return json(r.body, r.status, r.replayed ? { "idempotent-replayed": "true" } : {});
});
