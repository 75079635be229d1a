import { apiRoute, json } from "@/lib/api/http.ts";
import { requireBearer } from "@/lib/data/api/access-token.ts";
import { listApiDevices } from "@/lib/data/api/list-api-devices.ts";
import { deviceQuerySchema } from "@/lib/validations/api.ts";

export const dynamic = "force-dynamic";

// GET /api/v1/devices?uid=&q=&status=&cursor=&limit= — the caller's customer's devices, keyset-paginated.
export const GET = apiRoute(async (req) => {
  const caller = await requireBearer(req);
  const query = deviceQuerySchema.parse(Object.fromEntries(new URL(req.url).searchParams));
  return json(await listApiDevices(caller, query));
});
