import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";

/** The customer a customer user's UID belongs to. */
export async function customerOfUid(uid: string): Promise<string> {
  const user = await db().user.findUnique({ where: { uid }, select: { customerId: true, disabledAt: true } });
  if (!user?.customerId || user.disabledAt) throw new AppError("uid_unknown", `no active customer user has UID ${uid}`, 404);
  return user.customerId;
}
