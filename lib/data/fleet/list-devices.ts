import "server-only";
import { Prisma } from "../../../generated/prisma/client.ts";
import { db } from "../../db/client.ts";
import { encodeCursor, type FleetQuery } from "../../validations/fleet.ts";
import {
  countFleet,
  effectiveQuery,
  type FleetFilter,
  type FleetScope,
  fleetFilter,
  needsClock,
  overdueAt,
  stateAt,
  ts,
  whereOf,
  withFleetClock,
} from "./fleet-filter.ts";

export type FleetStatus = "active" | "revoked" | "expired" | "quarantined" | "none";

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
  state: string;
  overdue: boolean;
  enrolledAt: Date;
  lastRotatedAt: Date;
  serial: string | null;
  uid: string | null;
  notAfter: Date | null;
  sortValue: Date | null;
};

// Every filter and sort reads Device columns only (the current certificate is denormalized onto the device,
// schema.prisma), each sort backed by a (customerId, column, id) index and a (column, id) one for staff, and
// by (customerId, fleetState, fleetOverdue, column, id) ones for the status and overdue filters.
const SORT_SQL = {
  enrolled: Prisma.sql`d."enrolledAt"`,
  rotation: Prisma.sql`d."lastRotatedAt"`,
  expiry: Prisma.sql`d."currentNotAfter"`,
} as const;

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
 * The ids of one segment's next `want` rows. A status or overdue filter is a union of index ranges (its
 * guides, fleet-filter.ts), each read in sort order up to `want` rows; the union is then sorted and cut
 * again — a few dozen rows, whatever the fleet's size.
 */
function segmentIds(f: FleetFilter, seg: { cond: Prisma.Sql[]; order: Prisma.Sql }, want: number): Prisma.Sql {
  const ids = (extra: Prisma.Sql[]) =>
    Prisma.sql`SELECT d.id FROM "Device" d ${whereOf([...f.base, ...extra, ...seg.cond])} ORDER BY ${seg.order} LIMIT ${want}`;
  if (!f.guides) return ids([]);
  return Prisma.join(
    f.guides.map((g) => Prisma.sql`(${ids([g])})`),
    " UNION ALL ",
  );
}

/**
 * One page of the fleet: filtered, sorted and keyset-paginated in the database (STYLE habit 8), with a
 * capped count of the filter queried in parallel. Never OFFSET, never an unbounded COUNT. Each row's status
 * and overdue flag are computed at `now`.
 */
export async function listDevices(
  query: FleetQuery,
  scope: FleetScope,
  now = new Date(),
  opts: { count?: boolean } = {},
): Promise<FleetPage> {
  const q = effectiveQuery(query);
  const sortExpr = SORT_SQL[q.sort];
  const { raw, count } = await withFleetClock(needsClock(q), async (clock) => {
    const f = fleetFilter(q, scope, now, clock);
    const pageRows = async () => {
      const out: Raw[] = [];
      for (const seg of segments(q)) {
        const want = q.size + 1 - out.length;
        if (want <= 0) break;
        out.push(
          ...(await db().$queryRaw<
            Raw[]
          >`SELECT d.id, d."deviceId", d."customerId", cu.name AS "customerName", ${stateAt(now)}::text AS state,
              ${overdueAt(now)} AS overdue, d."enrolledAt", d."lastRotatedAt", d."currentSerial" AS serial, d.uid,
              d."currentNotAfter" AS "notAfter", ${sortExpr} AS "sortValue"
            FROM "Device" d JOIN "Customer" cu ON cu.id = d."customerId"
            WHERE d.id IN (${segmentIds(f, seg, want)})
            ORDER BY ${seg.order}
            LIMIT ${want}`),
        );
      }
      return out;
    };
    const [raw, count] = await Promise.all([
      pageRows(),
      opts.count === false ? Promise.resolve({ total: -1, totalExact: false }) : countFleet([f]).then(([c]) => c),
    ]);
    return { raw, count };
  });
  const more = raw.length > q.size;
  const page = more ? raw.slice(0, q.size) : raw;
  // a first page that is also the last one is its own exact count, whatever the estimate said
  if (!q.cursor && !more && opts.count !== false) Object.assign(count, { total: page.length, totalExact: true });
  const rows = page.map((r) => ({
    id: r.id,
    deviceId: r.deviceId,
    customerId: r.customerId,
    customerName: r.customerName,
    status: r.state.toLowerCase() as FleetStatus,
    enrolledAt: new Date(r.enrolledAt).toISOString(),
    lastRotatedAt: new Date(r.lastRotatedAt).toISOString(),
    rotationOverdue: r.overdue,
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
