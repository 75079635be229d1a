import { answerOcsp } from "@/lib/data/revocation/ocsp.ts";
import { ocspResponseStatus } from "@/lib/pki/ocsp.ts";

export const dynamic = "force-dynamic";

// GET /ocsp/<base64 of the DER request> (RFC 6960 A.1). Only a successful answer may be cached: an error
// (malformed, unauthorized, internal) must not stick in a cache for the next asker.
export async function GET(req: Request) {
  const segment = new URL(req.url).pathname.replace(/^\/ocsp\//, "");
  const answer = await answerOcsp(segment);
  const cache = ocspResponseStatus(answer) === "successful" ? "public, max-age=60" : "no-store";
  return new Response(new Uint8Array(answer), { headers: { "content-type": "application/ocsp-response", "cache-control": cache } });
}
