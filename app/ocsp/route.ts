import { answerOcsp } from "@/lib/data/revocation/ocsp.ts";
import { OCSP_LIMITS } from "@/lib/pki/ocsp.ts";

export const dynamic = "force-dynamic";

const HEADERS = { "content-type": "application/ocsp-response", "cache-control": "no-store" };

// POST /ocsp — RFC 6960 request in the body. Malformed input gets an OCSP malformedRequest answer.
export async function POST(req: Request) {
  const body = new Uint8Array(await req.arrayBuffer());
  if (body.length > OCSP_LIMITS.maxRequestBytes) return new Response("request too large\n", { status: 413 });
  return new Response(new Uint8Array(await answerOcsp(body)), { headers: HEADERS });
}
