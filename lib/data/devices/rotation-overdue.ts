// 30-day rotation policy (SPEC §5): a device whose current (newest) Client TLS certificate is older than 30
// days is "rotation overdue". Device.lastRotatedAt is set by every Client TLS issuance, so the query is an
// indexed range scan on (customerId, lastRotatedAt).
import { db } from "../../db/client.ts";

/** SPEC §5: a device whose current Client TLS certificate is older than this is rotation overdue (= fleet_overdue() in SQL). */
export const ROTATION_OVERDUE_DAYS = 30;
const DAY = 86_400_000;

export type OverdueDevice = { deviceId: string; lastRotatedAt: Date; ageDays: number; currentSerial: string | null };

/** Active devices of a customer that are rotation overdue, oldest first (keyset pagination by lastRotatedAt, id). */
export async function rotationOverdue(input: {
  customerId: string;
  now?: Date;
  limit?: number;
  after?: { lastRotatedAt: Date; id: string };
}): Promise<{ devices: OverdueDevice[]; total: number }> {
  const now = input.now ?? new Date();
  const cutoff = new Date(now.getTime() - ROTATION_OVERDUE_DAYS * DAY);
  const where = { customerId: input.customerId, status: "ACTIVE" as const, lastRotatedAt: { lt: cutoff } };
  const [rows, total] = await Promise.all([
    db().device.findMany({
      where: input.after
        ? {
            ...where,
            OR: [
              { lastRotatedAt: { gt: input.after.lastRotatedAt, lt: cutoff } },
              { lastRotatedAt: input.after.lastRotatedAt, id: { gt: input.after.id } },
            ],
          }
        : where,
      orderBy: [{ lastRotatedAt: "asc" }, { id: "asc" }],
      take: Math.min(input.limit ?? 100, 1000),
      select: {
        id: true,
        deviceId: true,
        lastRotatedAt: true,
        certificates: { where: { kind: "CLIENT_TLS" }, orderBy: { createdAt: "desc" }, take: 1, select: { serial: true } },
      },
    }),
    db().device.count({ where }),
  ]);
  return {
    devices: rows.map((d) => ({
      deviceId: d.deviceId,
      lastRotatedAt: d.lastRotatedAt,
      ageDays: Math.floor((now.getTime() - d.lastRotatedAt.getTime()) / DAY),
      currentSerial: d.certificates[0]?.serial ?? null,
    })),
    total,
  };
}

/** Whether one device is rotation overdue (the portal's fleet table shows it per row). */
export function isRotationOverdue(lastRotatedAt: Date, now = new Date()): boolean {
  return now.getTime() - lastRotatedAt.getTime() > ROTATION_OVERDUE_DAYS * DAY;
}
