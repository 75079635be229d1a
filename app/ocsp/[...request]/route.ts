import { answerOcsp } from "@/lib/data/revocation/ocsp.ts";

export const dynamic = "force-dynamic";

// GET /ocsp/<base64 of the DER request> (RFC 6960 A.1).
export async function GET(req: Request) {
  const segment = new URL(req.url).pathname.replace(/^\/ocsp\//, "");
  return new Response(new Uint8Array(await answerOcsp(segment)), {
    headers: { "content-type": "application/ocsp-response", "cache-control": "public, max-age=60" },
  });
}
