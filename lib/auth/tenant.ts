import "server-only";
import { forbidden } from "next/navigation";
import type { SessionUser } from "./options.ts";

/**
 * The customer a user's reads and writes are confined to: null for staff (every customer), else the
 * user's own customer from the session — never from the request. A customer user without one is refused.
 */
export function tenantOf(user: SessionUser): string | null {
  if (user.role === "STAFF") return null;
  if (!user.customerId) forbidden();
  return user.customerId;
}
