import { requireUser } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { certificateDetail } from "@/lib/data/certificates/certificate-detail.ts";
import { isAppError } from "@/lib/errors.ts";

export const dynamic = "force-dynamic";

/** The certificate as PEM (?chain=1: followed by its CA chain), for its owner or staff only. */
export async function GET(request: Request, { params }: { params: Promise<{ serial: string }> }) {
  const user = await requireUser();
  const { serial } = await params;
  try {
    // a route handler's params are decoded already: decoding again would misread a "%" (and throw on "%E0")
    const cert = await certificateDetail(serial, tenantOf(user));
    const withChain = new URL(request.url).searchParams.get("chain") === "1";
    const body = withChain ? [cert.pem, ...cert.chain.map((c) => c.pem)].join("") : cert.pem;
    return new Response(body, {
      headers: {
        "content-type": "application/x-pem-file",
        "content-disposition": `attachment; filename="${cert.serial}${withChain ? "-chain" : ""}.pem"`,
        "cache-control": "no-store",
      },
    });
  } catch (e) {
    if (isAppError(e) || (e as { code?: string }).code === "serial_invalid") return new Response("Not found\n", { status: 404 });
    throw e;
  }
}
