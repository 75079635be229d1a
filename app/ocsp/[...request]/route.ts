import { answerOcsp } from "@/lib/data/revocation/ocsp.ts";
import { OCSP_RESPONSE_VALIDITY_MS, ocspResponseStatus } from "@/lib/pki/ocsp.ts";

export const dynamic = "force-dynamic";

// How long a cache may serve a GET answer. RFC 5019 §6.2 wants max-age between thisUpdate and nextUpdate: ours are
// now and now + OCSP_RESPONSE_VALIDITY_MS (24 h), so any age up to that is allowed; we keep a minute, the most a
// revocation may wait behind a cache before OCSP says so (SPEC §6 "in the next answer": the responder itself
// answers from the database every time). must-revalidate: never served stale past it; no-transform: signed bytes.
const MAX_AGE_S = Math.min(60, OCSP_RESPONSE_VALIDITY_MS / 1000);

// GET /ocsp/<base64 of the DER request> (RFC 6960 A.1). Only a successful answer may be cached: an error
// (malformed, unauthorized, internal) must not stick in a cache for the next asker.
export async function GET(req: Request) {
  const segment = new URL(req.url).pathname.replace(/^\/ocsp\//, "");
  const answer = await answerOcsp(segment);
  const cache = ocspResponseStatus(answer) === "successful" ? `public, max-age=${MAX_AGE_S}, no-transform, must-revalidate` : "no-store";
  return new Response(new Uint8Array(answer), { headers: { "content-type": "application/ocsp-response", "cache-control": cache } });
}
