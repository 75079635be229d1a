import "server-only";
import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { isUuid } from "../../validations/common.ts";

const NOT_FOUND = () => new AppError("device_not_found", "No such device.", 404);

/**
 * One device with every certificate it holds across PKIs (client TLS history, application certificates),
 * newest first. The customer is part of the query (STYLE habit 5): another customer's device is a 404.
 */
export async function getDevice(id: string, customerId: string | null, now = new Date()) {
  if (!isUuid(id)) throw NOT_FOUND();
  const device = await db().device.findFirst({
    where: customerId ? { id, customerId } : { id },
    select: {
      id: true,
      deviceId: true,
      status: true,
      enrolledAt: true,
      lastRotatedAt: true,
      decommissionedAt: true,
      resetAt: true,
      customer: { select: { id: true, name: true } },
      certificates: {
        orderBy: { createdAt: "desc" },
        select: {
          serial: true,
          kind: true,
          profile: true,
          uid: true,
          notBefore: true,
          notAfter: true,
          revokedAt: true,
          revocationReason: true,
        },
      },
    },
  });
  if (!device) throw NOT_FOUND();
  return {
    ...device,
    certificates: device.certificates.map((c) => ({
      ...c,
      status: c.revokedAt ? "revoked" : c.notAfter <= now ? "expired" : "active",
    })),
  };
}
