import "server-only";
import { Prisma } from "../../../generated/prisma/client.ts";
import { db } from "../../db/client.ts";
import { normalizeSerial } from "../../pki/serial.ts";
import { encodeCursor, type FleetQuery } from "../../validations/fleet.ts";

export const ROTATION_OVERDUE_DAYS = 30;
/** Counts stop here: beyond it the page shows the planner's estimate (no unbounded COUNT over a million rows). */
export const COUNT_CAP = 1000;
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

/** total: exact when `totalExact`, else the planner's estimate (always more than COUNT_CAP). */
export type FleetPage = { rows: FleetRow[]; total: number; totalExact: boolean; nextCursor: string | null };

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
  sortValue: Date | null;
};

// Every filter and sort reads Device columns only (the current certificate is denormalized onto the device,
// schema.prisma), each sort backed by a (customerId, column, id) index and a (column, id) one for staff.
const SORT_SQL = {
  enrolled: Prisma.sql`d."enrolledAt"`,
  rotation: Prisma.sql`d."lastRotatedAt"`,
  expiry: Prisma.sql`d."currentNotAfter"`,
} as const;

const ts = (d: Date) => Prisma.sql`${d.toISOString()}::timestamp`;

/** The tenant scope is the caller's decision (staff: a customer or all; customers: their own), never the URL's. */
export type FleetScope = { customerId: string | null };

/** The smallest string greater than every string starting with `p` (byte order, as text_pattern_ops compares). */
function prefixEnd(p: string): string | null {
  const cps = [...p];
  const last = cps.pop()?.codePointAt(0);
  if (last === undefined || last >= 0x10ffff || (last >= 0xd7ff && last < 0xe000)) return null;
  return cps.join("") + String.fromCodePoint(last + 1);
}

function filters(q: Omit<FleetQuery, "cursor" | "size">, scope: FleetScope, now: Date): Prisma.Sql[] {
  const parts: Prisma.Sql[] = [];
  if (scope.customerId) parts.push(Prisma.sql`d."customerId" = ${scope.customerId}::uuid`);
  if (q.q) {
    const term = q.q;
    const like = `${term.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    // device id prefix: an explicit text_pattern_ops range, so the index is used whatever the collation
    const end = prefixEnd(term);
    const prefix = end
      ? Prisma.sql`(d."deviceId" ~>=~ ${term} AND d."deviceId" ~<~ ${end} AND d."deviceId" LIKE ${like})`
      : Prisma.sql`d."deviceId" LIKE ${like}`;
    let serial: string | null = null;
    try {
      serial = normalizeSerial(term);
    } catch {
      serial = null;
    }
    // a serial finds the device by its current certificate or by any older one (Certificate.serial is unique)
    const bySerial = serial
      ? Prisma.sql` OR d."currentSerial" = ${serial} OR d.id = (SELECT s."deviceRef" FROM "Certificate" s WHERE s.serial = ${serial})`
      : Prisma.empty;
    parts.push(Prisma.sql`(${prefix} OR d.uid = ${term}${bySerial})`);
  }
  const at = ts(now);
  if (q.status === "active") parts.push(Prisma.sql`(d.status = 'ACTIVE' AND d."currentRevokedAt" IS NULL AND d."currentNotAfter" > ${at})`);
  if (q.status === "revoked") parts.push(Prisma.sql`(d.status = 'DECOMMISSIONED' OR d."currentRevokedAt" IS NOT NULL)`);
  if (q.status === "expired")
    parts.push(Prisma.sql`(d.status = 'ACTIVE' AND d."currentRevokedAt" IS NULL AND d."currentNotAfter" <= ${at})`);
  if (q.overdue)
    parts.push(Prisma.sql`(d.status = 'ACTIVE' AND d."lastRotatedAt" < ${ts(new Date(now.getTime() - ROTATION_OVERDUE_DAYS * DAY))})`);
  return parts;
}

const whereOf = (parts: Prisma.Sql[]) => (parts.length ? Prisma.sql`WHERE ${Prisma.join(parts, " AND ")}` : Prisma.empty);

function status(r: Raw, now: Date): FleetStatus {
  if (r.deviceStatus === "DECOMMISSIONED" || r.revokedAt) return "revoked";
  if (!r.notAfter) return "none";
  return r.notAfter > now ? "active" : "expired";
}

/**
 * Keyset segments in page order. enrolledAt and lastRotatedAt are never null: one segment. The expiry of a
 * device without a Client TLS certificate is null; PostgreSQL's index order puts nulls last ascending and first
 * descending, so expiry pages walk two segments — non-null by (value, id), then null by id (reversed for desc) —
 * each a plain index range scan, however deep the page.
 */
function segments(q: FleetQuery): { cond: Prisma.Sql[]; order: Prisma.Sql }[] {
  const col = SORT_SQL[q.sort];
  const desc = q.dir === "desc";
  const dir = desc ? Prisma.sql`DESC` : Prisma.sql`ASC`;
  const cmp = desc ? Prisma.sql`<` : Prisma.sql`>`;
  const c = q.cursor;
  const valued = {
    cond: [
      ...(q.sort === "expiry" ? [Prisma.sql`${col} IS NOT NULL`] : []),
      ...(c?.v ? [Prisma.sql`(${col}, d.id) ${cmp} (${ts(new Date(c.v))}, ${c.id}::uuid)`] : []),
    ],
    order: Prisma.sql`${col} ${dir}, d.id ${dir}`,
  };
  if (q.sort !== "expiry") return [valued];
  const nulls = {
    cond: [Prisma.sql`${col} IS NULL`, ...(c && c.v === null ? [Prisma.sql`d.id ${cmp} ${c.id}::uuid`] : [])],
    order: Prisma.sql`d.id ${dir}`,
  };
  if (!c) return desc ? [nulls, valued] : [valued, nulls];
  if (c.v === null) return desc ? [nulls, valued] : [nulls];
  return desc ? [valued] : [valued, nulls];
}

/**
 * The planner's row estimate for the filter first (planning only, no scan); an exact count, capped at
 * COUNT_CAP, only when the estimate says the set is small enough for that to be cheap. Never an unbounded COUNT.
 */
async function countDevices(parts: Prisma.Sql[]): Promise<{ total: number; totalExact: boolean }> {
  const where = whereOf(parts);
  const plan = await db().$queryRaw<Record<string, unknown>[]>`EXPLAIN (FORMAT JSON) SELECT 1 FROM "Device" d ${where}`;
  const raw = Object.values(plan[0] ?? {})[0];
  const json = (typeof raw === "string" ? JSON.parse(raw) : raw) as { Plan?: { "Plan Rows"?: number } }[];
  const estimate = Math.round(json?.[0]?.Plan?.["Plan Rows"] ?? 0);
  if (estimate > 4 * COUNT_CAP) return { total: estimate, totalExact: false };
  const [{ n }] = await db().$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM (
    SELECT 1 FROM "Device" d ${where} LIMIT ${COUNT_CAP + 1}) t`;
  if (n <= COUNT_CAP) return { total: n, totalExact: true };
  return { total: Math.max(estimate, COUNT_CAP + 1), totalExact: false };
}

/**
 * One page of the fleet: filtered, sorted and keyset-paginated in the database (STYLE habit 8), with a
 * capped count of the filter queried in parallel. Never OFFSET, never an unbounded COUNT.
 */
export async function listDevices(q: FleetQuery, scope: FleetScope, now = new Date(), opts: { count?: boolean } = {}): Promise<FleetPage> {
  const parts = filters(q, scope, now);
  const sortExpr = SORT_SQL[q.sort];
  const pageRows = async () => {
    const out: Raw[] = [];
    for (const seg of segments(q)) {
      const want = q.size + 1 - out.length;
      if (want <= 0) break;
      out.push(
        ...(await db().$queryRaw<
          Raw[]
        >`SELECT d.id, d."deviceId", d."customerId", cu.name AS "customerName", d.status::text AS "deviceStatus",
            d."enrolledAt", d."lastRotatedAt", d."currentSerial" AS serial, d.uid, d."currentNotAfter" AS "notAfter",
            d."currentRevokedAt" AS "revokedAt", ${sortExpr} AS "sortValue"
          FROM "Device" d JOIN "Customer" cu ON cu.id = d."customerId"
          ${whereOf([...parts, ...seg.cond])}
          ORDER BY ${seg.order}
          LIMIT ${want}`),
      );
    }
    return out;
  };
  const [raw, count] = await Promise.all([
    pageRows(),
    opts.count === false ? Promise.resolve({ total: -1, totalExact: false }) : countDevices(parts),
  ]);
  const more = raw.length > q.size;
  const page = more ? raw.slice(0, q.size) : raw;
  // a first page that is also the last one is its own exact count, whatever the estimate said
  if (!q.cursor && !more && opts.count !== false) Object.assign(count, { total: page.length, totalExact: true });
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
  return {
    rows,
    ...count,
    nextCursor: more && last ? encodeCursor(last.sortValue === null ? null : new Date(last.sortValue), last.id) : null,
  };
}
