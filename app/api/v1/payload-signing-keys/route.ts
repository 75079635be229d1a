import { apiRoute, clientIp, endpointUrls, json, readBody } from "@/lib/api/http.ts";
import { requireBearer } from "@/lib/data/api/access-token.ts";
import { listSigningKeys } from "@/lib/data/signing-keys/list-signing-keys.ts";
import { registerSigningKey } from "@/lib/data/signing-keys/register-signing-key.ts";

export const dynamic = "force-dynamic";

const PATH = "/api/v1/payload-signing-keys";

// GET — the calling user's keys.
export const GET = apiRoute(async (req) => json(await listSigningKeys(await requireBearer(req))));

// POST — register a key with proof of possession (SPEC §4).
export const POST = apiRoute(async (req) => {
  const caller = await requireBearer(req, { ownLimit: "keys" });
  const key = await registerSigningKey({ caller, body: await readBody(req), url: endpointUrls(req, PATH), ip: clientIp(req) });
  return json(key, 201, { location: `${PATH}/${key.kid}` });
});
