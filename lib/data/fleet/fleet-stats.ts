import "server-only";
import { Prisma } from "../../../generated/prisma/client.ts";
import { db } from "../../db/client.ts";
import { ROTATION_OVERDUE_DAYS } from "./list-devices.ts";

const DAY = 86_400_000;

/**
 * The overview: fleet counts and the two charts' series (issuances per day over 30 days, rotation
 * compliance), scoped to one customer or — staff — all of them.
 */
export async function fleetStats(customerId: string | null, now = new Date()) {
  const scope = customerId ? { customerId } : {};
  const live = { ...scope, revokedAt: null, notAfter: { gt: now } };
  const overdueBefore = new Date(now.getTime() - ROTATION_OVERDUE_DAYS * DAY);
  const since = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - 29 * DAY);
  const customerSql = customerId ? Prisma.sql`AND "customerId" = ${customerId}::uuid` : Prisma.empty;
  const [devices, liveCerts, expiring, overdue, perDay] = await Promise.all([
    db().device.count({ where: { ...scope, status: "ACTIVE" } }),
    db().certificate.count({ where: { ...live, kind: { in: ["CLIENT_TLS", "APPLICATION"] } } }),
    db().certificate.count({
      where: { ...live, kind: { in: ["CLIENT_TLS", "APPLICATION"] }, notAfter: { gt: now, lte: new Date(now.getTime() + 30 * DAY) } },
    }),
    db().device.count({ where: { ...scope, status: "ACTIVE", lastRotatedAt: { lt: overdueBefore } } }),
    db().$queryRaw<{ day: string; n: number }[]>`SELECT to_char(date_trunc('day', "createdAt"), 'YYYY-MM-DD') AS day, count(*)::int AS n
      FROM "Certificate" WHERE "createdAt" >= ${since.toISOString()}::timestamp ${customerSql}
      GROUP BY 1 ORDER BY 1`,
  ]);
  const counts = new Map(perDay.map((r) => [r.day, r.n]));
  const issuances = Array.from({ length: 30 }, (_, i) => {
    const day = new Date(since.getTime() + i * DAY).toISOString().slice(0, 10);
    return { day, n: counts.get(day) ?? 0 };
  });
  return { devices, liveCerts, expiring, overdue, compliant: devices - overdue, issuances };
}
