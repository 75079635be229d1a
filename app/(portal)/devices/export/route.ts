import { rolesFor } from "@/components/layout/nav.ts";
import { requireRole } from "@/lib/auth/session.ts";
import { exportDevicesCsv } from "@/lib/data/fleet/export-devices.ts";
import { fleetScope } from "@/lib/data/fleet/fleet-scope.ts";
import { fleetQuerySchema } from "@/lib/validations/fleet.ts";

export const dynamic = "force-dynamic";

/** CSV of the fleet filter in the URL, with the same role and tenant checks as the page. */
export async function GET(request: Request) {
  const user = await requireRole(...rolesFor("/devices"));
  const q = fleetQuerySchema.parse(Object.fromEntries(new URL(request.url).searchParams));
  const stream = exportDevicesCsv({ ...q, cursor: undefined }, fleetScope(user, q));
  return new Response(stream, {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="devices-${new Date().toISOString().slice(0, 10)}.csv"`,
      "cache-control": "no-store",
    },
  });
}
