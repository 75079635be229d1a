// GET /api/v1/devices: the fleet query of the portal (lib/data/fleet), scoped to the caller's customer.

import type { z } from "zod";
import { AppError } from "../../errors.ts";
import type { deviceQuerySchema } from "../../validations/api.ts";
import { type FleetQuery, fleetQuerySchema } from "../../validations/fleet.ts";
import { listDevices } from "../fleet/list-devices.ts";
import type { ApiCaller } from "./access-token.ts";

export async function listApiDevices(caller: Pick<ApiCaller, "customerId">, query: z.output<typeof deviceQuerySchema>) {
  let cursor: FleetQuery["cursor"];
  if (query.cursor !== undefined) {
    const c = fleetQuerySchema.shape.cursor.safeParse(query.cursor);
    if (!c.success || !c.data) throw new AppError("invalid_request", "cursor: bad cursor", 400);
    cursor = c.data;
  }
  const q: FleetQuery = {
    q: query.q,
    status: query.status ?? "all",
    overdue: undefined,
    expiring: query.expiring,
    sort: query.expiring ? "expiry" : "enrolled",
    dir: query.expiring ? "asc" : "desc",
    size: query.limit,
    cursor,
    customer: undefined,
  };
  const page = await listDevices(q, { customerId: caller.customerId, uid: query.uid }, new Date(), { count: false });
  return {
    devices: page.rows.map((r) => ({
      deviceId: r.deviceId,
      status: r.status,
      enrolledAt: r.enrolledAt,
      lastRotatedAt: r.lastRotatedAt,
      rotationOverdue: r.rotationOverdue,
      serial: r.serial,
      uid: r.uid,
      notAfter: r.notAfter,
    })),
    nextCursor: page.nextCursor,
  };
}
