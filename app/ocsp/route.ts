import { readBytes } from "@/lib/api/http.ts";
import { answerOcsp } from "@/lib/data/revocation/ocsp.ts";
import { AppError } from "@/lib/errors.ts";
import { errorResponse, OCSP_LIMITS } from "@/lib/pki/ocsp.ts";

export const dynamic = "force-dynamic";

const HEADERS = { "content-type": "application/ocsp-response", "cache-control": "no-store" };

// POST /ocsp — RFC 6960 request in the body, read no further than the request limit. Malformed or oversized
// input gets an OCSP malformedRequest answer.
export async function POST(req: Request) {
  let body: Buffer;
  try {
    body = await readBytes(req, OCSP_LIMITS.maxRequestBytes);
  } catch (e) {
    if (e instanceof AppError && e.code === "body_too_large")
      return new Response(new Uint8Array(errorResponse("malformedRequest")), { headers: HEADERS });
    throw e;
  }
  return new Response(new Uint8Array(await answerOcsp(new Uint8Array(body))), { headers: HEADERS });
}
