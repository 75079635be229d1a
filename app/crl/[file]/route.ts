import { currentCrl } from "@/lib/data/revocation/crl.ts";
import { isAppError } from "@/lib/errors.ts";

export const dynamic = "force-dynamic";

// GET /crl/<ca-id>.crl — DER CRL of one CA generation, no authentication (SPEC §6).
export async function GET(_req: Request, { params }: { params: Promise<{ file: string }> }) {
  const { file } = await params;
  const id = /^([0-9a-f-]{36})\.crl$/i.exec(file)?.[1];
  if (!id) return new Response("not found\n", { status: 404 });
  try {
    const der = await currentCrl(id.toLowerCase());
    return new Response(new Uint8Array(der), {
      headers: { "content-type": "application/pkix-crl", "cache-control": "public, max-age=300" },
    });
  } catch (e) {
    if (isAppError(e) && e.status === 404) return new Response("not found\n", { status: 404 });
    throw e;
  }
}
