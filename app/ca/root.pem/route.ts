import { exportCaPem } from "@/lib/data/ca/list-cas.ts";

export const dynamic = "force-dynamic";

// GET /ca/root.pem — the trust anchor devices and relying parties install.
export async function GET() {
  return new Response(await exportCaPem("root"), { headers: { "content-type": "application/x-pem-file" } });
}
