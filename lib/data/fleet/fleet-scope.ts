import "server-only";
import type { SessionUser } from "../../auth/options.ts";
import { tenantOf } from "../../auth/tenant.ts";
import type { FleetQuery } from "../../validations/fleet.ts";
import type { FleetScope } from "./fleet-filter.ts";

/** Whose devices a user may list: staff any customer (or all), everyone else only their own — whatever the URL says. */
export function fleetScope(user: SessionUser, q: Pick<FleetQuery, "customer">): FleetScope {
  return { customerId: tenantOf(user) ?? q.customer ?? null };
}
