import "server-only";
import { forbidden, redirect } from "next/navigation";
import { getServerSession } from "next-auth";
import { authOptions, type Role, type SessionUser } from "./options.ts";

/** The signed-in user, or a redirect to the sign-in page. */
export async function requireUser(): Promise<SessionUser> {
  const session = await getServerSession(authOptions());
  if (!session?.user) redirect("/signin");
  return session.user;
}

/** The signed-in user if their role is one of `roles`; otherwise 403. Every page and action calls this itself. */
export async function requireRole(...roles: Role[]): Promise<SessionUser> {
  const user = await requireUser();
  if (!roles.includes(user.role)) forbidden();
  return user;
}

export const ROLE_LABEL: Record<Role, string> = { STAFF: "Staff", CUSTOMER_ADMIN: "Customer admin", CUSTOMER_VIEWER: "Customer viewer" };
