import "server-only";
import { Prisma } from "../../../generated/prisma/client.ts";
import { db } from "../../db/client.ts";
import { normalizeSerial } from "../../pki/serial.ts";
import { encodeCursor, type FleetQuery } from "../../validations/fleet.ts";

export const ROTATION_OVERDUE_DAYS = 30;
const DAY = 86_400_000;

export type FleetStatus = "active" | "revoked" | "expired" | "none";

export type FleetRow = {
  id: string;
  deviceId: string;
  customerId: string;
  customerName: string;
  status: FleetStatus;
  enrolledAt: string;
  lastRotatedAt: string;
  rotationOverdue: boolean;
  /** the device's current (newest) client TLS certificate */
  serial: string | null;
  uid: string | null;
  notAfter: string | null;
};

export type FleetPage = { rows: FleetRow[]; total: number; nextCursor: string | null };

type Raw = {
  id: string;
  deviceId: string;
  customerId: string;
  customerName: string;
  deviceStatus: string;
  enrolledAt: Date;
  lastRotatedAt: Date;
  serial: string | null;
  uid: string | null;
  notAfter: Date | null;
  revokedAt: Date | null;
  sortValue: Date;
};

const SORT_SQL = {
  enrolled: Prisma.sql`d."enrolledAt"`,
  rotation: Prisma.sql`d."lastRotatedAt"`,
  expiry: Prisma.sql`COALESCE(c."notAfter", TIMESTAMP '1970-01-01')`,
} as const;

const ts = (d: Date) => Prisma.sql`${d.toISOString()}::timestamp`;

/** The tenant scope is the caller's decision (staff: a customer or all; customers: their own), never the URL's. */
export type FleetScope = { customerId: string | null };

function whereClause(q: Omit<FleetQuery, "cursor" | "size">, scope: FleetScope, now: Date): Prisma.Sql {
  const parts: Prisma.Sql[] = [];
  if (scope.customerId) parts.push(Prisma.sql`d."customerId" = ${scope.customerId}::uuid`);
  if (q.q) {
    const term = q.q;
    const like = `${term.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    let serial: string | null = null;
    try {
      serial = normalizeSerial(term);
    } catch {
      serial = null;
    }
    const certMatch = serial ? Prisma.sql`s.uid = ${term} OR s.serial = ${serial}` : Prisma.sql`s.uid = ${term}`;
    parts.push(Prisma.sql`(d."deviceId" = ${term} OR d."deviceId" LIKE ${like} OR d.id IN (
      SELECT s."deviceRef" FROM "Certificate" s WHERE s."deviceRef" IS NOT NULL AND (${certMatch})))`);
  }
  if (q.status === "active") parts.push(Prisma.sql`(d.status = 'ACTIVE' AND c."revokedAt" IS NULL AND c."notAfter" > ${ts(now)})`);
  if (q.status === "revoked") parts.push(Prisma.sql`(d.status = 'DECOMMISSIONED' OR c."revokedAt" IS NOT NULL)`);
  if (q.status === "expired") parts.push(Prisma.sql`(d.status = 'ACTIVE' AND c."revokedAt" IS NULL AND c."notAfter" <= ${ts(now)})`);
  if (q.overdue)
    parts.push(Prisma.sql`(d.status = 'ACTIVE' AND d."lastRotatedAt" < ${ts(new Date(now.getTime() - ROTATION_OVERDUE_DAYS * DAY))})`);
  return parts.length ? Prisma.sql`WHERE ${Prisma.join(parts, " AND ")}` : Prisma.empty;
}

const FROM = Prisma.sql`FROM "Device" d
  JOIN "Customer" cu ON cu.id = d."customerId"
  LEFT JOIN LATERAL (
    SELECT x.serial, x.uid, x."notAfter", x."revokedAt" FROM "Certificate" x
    WHERE x."deviceRef" = d.id AND x.kind = 'CLIENT_TLS'
    ORDER BY x."createdAt" DESC LIMIT 1
  ) c ON true`;

function status(r: Raw, now: Date): FleetStatus {
  if (r.deviceStatus === "DECOMMISSIONED" || r.revokedAt) return "revoked";
  if (!r.notAfter) return "none";
  return r.notAfter > now ? "active" : "expired";
}

/**
 * One page of the fleet: filtered, sorted and keyset-paginated in the database (STYLE habit 8),
 * with the total count of the filter queried in parallel.
 */
export async function listDevices(q: FleetQuery, scope: FleetScope, now = new Date(), opts: { count?: boolean } = {}): Promise<FleetPage> {
  const where = whereClause(q, scope, now);
  const sortExpr = SORT_SQL[q.sort];
  const desc = q.dir === "desc";
  const dir = desc ? Prisma.sql`DESC` : Prisma.sql`ASC`;
  const after = q.cursor
    ? Prisma.sql`(${sortExpr}, d.id) ${desc ? Prisma.sql`<` : Prisma.sql`>`} (${ts(new Date(q.cursor.v))}, ${q.cursor.id}::uuid)`
    : null;
  const pageWhere = after ? (where === Prisma.empty ? Prisma.sql`WHERE ${after}` : Prisma.sql`${where} AND ${after}`) : where;
  const [raw, count] = await Promise.all([
    db().$queryRaw<Raw[]>`SELECT d.id, d."deviceId", d."customerId", cu.name AS "customerName", d.status::text AS "deviceStatus",
        d."enrolledAt", d."lastRotatedAt", c.serial, c.uid, c."notAfter", c."revokedAt", ${sortExpr} AS "sortValue"
      ${FROM} ${pageWhere}
      ORDER BY ${sortExpr} ${dir}, d.id ${dir}
      LIMIT ${q.size + 1}`,
    opts.count === false ? Promise.resolve([{ n: -1 }]) : db().$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n ${FROM} ${where}`,
  ]);
  const more = raw.length > q.size;
  const page = more ? raw.slice(0, q.size) : raw;
  const overdueBefore = now.getTime() - ROTATION_OVERDUE_DAYS * DAY;
  const rows = page.map((r) => ({
    id: r.id,
    deviceId: r.deviceId,
    customerId: r.customerId,
    customerName: r.customerName,
    status: status(r, now),
    enrolledAt: new Date(r.enrolledAt).toISOString(),
    lastRotatedAt: new Date(r.lastRotatedAt).toISOString(),
    rotationOverdue: r.deviceStatus === "ACTIVE" && new Date(r.lastRotatedAt).getTime() < overdueBefore,
    serial: r.serial,
    uid: r.uid,
    notAfter: r.notAfter ? new Date(r.notAfter).toISOString() : null,
  }));
  const last = page.at(-1);
  return { rows, total: count[0]?.n ?? 0, nextCursor: more && last ? encodeCursor(new Date(last.sortValue), last.id) : null };
}
