import "server-only";
import { forbidden, redirect } from "next/navigation";
import { getServerSession } from "next-auth";
import { db } from "../db/client.ts";
import { authOptions, type Role, type SessionUser } from "./options.ts";

/**
 * The signed-in user, or a redirect to the sign-in page. The session says who it is; what they may do comes
 * from the database on every call, so a demoted, moved or disabled user loses it at once, not when the
 * session expires.
 */
export async function requireUser(): Promise<SessionUser> {
  const session = await getServerSession(authOptions());
  if (!session?.user) redirect("/signin");
  const row = await db().user.findUnique({
    where: { id: session.user.id },
    select: { role: true, customerId: true, disabledAt: true },
  });
  if (!row || row.disabledAt) forbidden();
  return { ...session.user, role: row.role, customerId: row.customerId };
}

/** The signed-in user if their role is one of `roles`; otherwise 403. Every page and action calls this itself. */
export async function requireRole(...roles: Role[]): Promise<SessionUser> {
  const user = await requireUser();
  if (!roles.includes(user.role)) forbidden();
  return user;
}

export const ROLE_LABEL: Record<Role, string> = { STAFF: "Staff", CUSTOMER_ADMIN: "Customer admin", CUSTOMER_VIEWER: "Customer viewer" };
