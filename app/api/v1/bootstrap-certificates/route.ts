import { apiRoute, clientIp, endpointUrls, json, readBody } from "@/lib/api/http.ts";
import { requireBearer } from "@/lib/data/api/access-token.ts";
import { issueBootstrapCertificate } from "@/lib/data/certificates/issue-bootstrap-certificate.ts";

export const dynamic = "force-dynamic";

const PATH = "/api/v1/bootstrap-certificates";

// POST — a bootstrapping certificate for a JWS-signed CSR (SPEC §4).
export const POST = apiRoute(async (req) => {
  const caller = await requireBearer(req, { ownLimit: "issue" });
  const issued = await issueBootstrapCertificate({ caller, body: await readBody(req), url: endpointUrls(req, PATH), ip: clientIp(req) });
  return json(issued, 201);
});
