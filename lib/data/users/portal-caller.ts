// The portal's way into the use cases the customer API shares (SPEC §4): the signed-in customer user as an
// ApiCaller, loaded from the database (role, customer and disabled state never come from the session alone),
// and "enter your password again" re-authentication for the mutations that need it.
import "server-only";
import type { SessionUser } from "../../auth/options.ts";
import { verifyPassword } from "../../auth/password.ts";
import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import type { ApiCaller } from "../api/access-token.ts";
import { hitRateLimit } from "../api/rate-limit.ts";
import { audit } from "../audit/record.ts";

/** The session's customer user as the caller of a customer use case; staff and moved or disabled users are refused. */
export async function portalCaller(user: SessionUser): Promise<ApiCaller> {
  const row = await db().user.findUnique({
    where: { id: user.id },
    select: { id: true, uid: true, role: true, customerId: true, disabledAt: true },
  });
  if (!row || row.disabledAt || !row.customerId || row.customerId !== user.customerId || row.role === "STAFF")
    throw new AppError("forbidden", "This account cannot manage customer keys.", 403);
  return {
    clientId: `portal:${row.uid}`,
    customerId: row.customerId,
    user: { id: row.id, uid: row.uid, role: row.role },
    actor: { type: "user", id: row.id, customerId: row.customerId },
  };
}

const REAUTH_LIMIT = { attempts: 10, windowSeconds: 300 };

/** Re-authentication: the user's password, checked again (rate-limited, audited when wrong). */
export async function reauthenticate(caller: ApiCaller, password: string): Promise<boolean> {
  await hitRateLimit(`reauth:${caller.user.uid}`, REAUTH_LIMIT.attempts, REAUTH_LIMIT.windowSeconds);
  const row = await db().user.findUnique({ where: { id: caller.user.id }, select: { passwordHash: true } });
  if (!row?.passwordHash)
    throw new AppError("reauth_unavailable", "This account signs in with single sign-on; register further keys through the API.", 403);
  const ok = await verifyPassword(row.passwordHash, password);
  if (!ok)
    await audit(null, caller.actor, {
      action: "auth.reauthenticate",
      outcome: "refused",
      customerId: caller.customerId,
      target: `user:${caller.user.uid}`,
    });
  return ok;
}
