import { db, type Tx } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { KID_PATTERN } from "../../validations/api.ts";
import { type ApiCaller, requireAdmin } from "../api/access-token.ts";
import { limitClient } from "../api/rate-limit.ts";
import { audit } from "../audit/record.ts";

/** Disable one of the calling user's keys (another user's kid answers 404). Disabling is final. */
export async function disableSigningKey(caller: ApiCaller, kid: string, ip?: string) {
  requireAdmin(caller);
  await limitClient("keys", caller.clientId);
  // a kid that is no thumbprint names no key (and a NUL in it would fail the look-up)
  if (!KID_PATTERN.test(kid)) throw new AppError("key_not_found", "No such payload-signing key.", 404);
  const now = new Date();
  return db().$transaction(async (tx) => {
    const key = await tx.payloadSigningKey.findUnique({
      where: { userId_kid: { userId: caller.user.id, kid } },
      select: { id: true, disabledAt: true },
    });
    if (!key) throw new AppError("key_not_found", "No such payload-signing key.", 404);
    if (key.disabledAt) return { kid, disabledAt: key.disabledAt.toISOString() };
    await tx.payloadSigningKey.update({ where: { id: key.id }, data: { disabledAt: now } });
    await audit(tx, caller.actor, {
      action: "signing_key.disable",
      customerId: caller.customerId,
      target: `signing_key:${kid}`,
      details: { uid: caller.user.uid },
      ...(ip ? { ip } : {}),
    });
    return { kid, disabledAt: now.toISOString() };
  });
}

/**
 * Inside a write a payload-signing key authorized: the key is still active, and stays so until the write commits
 * (FOR SHARE: disableSigningKey's update waits for it). A key disabled after the request's signature was verified
 * — while a batch was being signed, say — authorizes nothing more.
 */
export async function lockActiveSigningKey(tx: Tx, userId: string, kid: string): Promise<void> {
  const rows = await tx.$queryRaw<{ id: string }[]>`
    SELECT id::text AS id FROM "PayloadSigningKey"
    WHERE "userId" = ${userId}::uuid AND kid = ${kid} AND "disabledAt" IS NULL FOR SHARE`;
  if (!rows.length) throw new AppError("key_disabled", "this payload-signing key is disabled", 403);
}
