import { apiRoute, clientIp, json } from "@/lib/api/http.ts";
import { requireBearer } from "@/lib/data/api/access-token.ts";
import { disableSigningKey } from "@/lib/data/signing-keys/disable-signing-key.ts";

export const dynamic = "force-dynamic";

// DELETE /api/v1/payload-signing-keys/{kid} — disable one of the caller's keys.
export const DELETE = apiRoute<{ kid: string }>(async (req, { kid }) =>
  json(await disableSigningKey(await requireBearer(req, { ownLimit: "keys" }), kid, clientIp(req))),
);
