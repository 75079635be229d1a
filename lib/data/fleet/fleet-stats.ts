import "server-only";
import { Prisma } from "../../../generated/prisma/client.ts";
import { db } from "../../db/client.ts";
import { countFleet, ESTIMATE_ABOVE, estimateDevices, type FilterInput, fleetFilter, ts, whereOf, withFleetClock } from "./fleet-filter.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** issuances per day: the last 30 days, today included */
const ISSUANCE_DAYS = 30;
/** upcoming expiries by week: the next 12 weeks */
const EXPIRY_WEEKS = 12;
/** a day is over for good an hour after midnight UTC: transactions that began before it have committed */
const SETTLE_MS = HOUR;

export type FleetCount = { total: number; totalExact: boolean };

const utcDay = (t: Date) => new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()));
const isoDay = (t: Date) => t.toISOString().slice(0, 10);

/**
 * Live Client TLS certificates (device not decommissioned, not revoked) expiring in each of the next 12 weeks,
 * and within 30 days, from Device alone: REVOKED and NONE are classes time never changes, so "stored class
 * ACTIVE, EXPIRED or QUARANTINED and expiry ahead" is exactly "live" — an index range per class. Counted
 * exactly (cumulative FILTERs, an index-only scan) while the 12 weeks hold no more than ESTIMATE_ABOVE devices;
 * beyond that each week is the planner's estimate, as the fleet page does for its counts.
 */
async function upcomingExpiries(customerId: string | null, now: Date) {
  const starts = Array.from({ length: EXPIRY_WEEKS + 1 }, (_, i) => new Date(now.getTime() + i * WEEK));
  const soon = new Date(now.getTime() + 30 * DAY);
  const live = (from: Date, to: Date) =>
    whereOf([
      ...(customerId ? [Prisma.sql`d."customerId" = ${customerId}::uuid`] : []),
      Prisma.sql`d."fleetState" IN ('ACTIVE', 'EXPIRED', 'QUARANTINED') AND d."fleetOverdue" IN (false, true)`,
      Prisma.sql`d."currentNotAfter" > ${ts(from)} AND d."currentNotAfter" <= ${ts(to)}`,
    ]);
  const week = (i: number) => isoDay(starts[i]);
  const [all] = await estimateDevices([live(now, starts[EXPIRY_WEEKS])]);
  if (all > ESTIMATE_ABOVE) {
    const weekly = starts.slice(0, EXPIRY_WEEKS).map((t, i) => live(t, starts[i + 1]));
    const estimates = await estimateDevices([...weekly, live(now, soon)]);
    return { exact: false, expiring30: estimates[EXPIRY_WEEKS], weeks: weekly.map((_, i) => ({ week: week(i), n: estimates[i] })) };
  }
  const upTo = (t: Date) => Prisma.sql`count(*) FILTER (WHERE d."currentNotAfter" <= ${ts(t)})`;
  const [row] = await db().$queryRaw<{ upto: number[]; soon: number }[]>`
    SELECT ARRAY[${Prisma.join(starts.slice(1).map(upTo))}]::int[] AS upto, (${upTo(soon)})::int AS soon
    FROM "Device" d ${live(now, starts[EXPIRY_WEEKS])}`;
  return {
    exact: true,
    expiring30: row.soon,
    // week i: expiring after the end of week i − 1, up to the end of week i
    weeks: row.upto.map((n, i) => ({ week: week(i), n: n - (i ? row.upto[i - 1] : 0) })),
  };
}

/** Certificates created on each of the given UTC days (FILTERs over one index range, as above). */
async function issuedOn(customerId: string | null, days: Date[]): Promise<Map<string, number>> {
  if (!days.length) return new Map();
  const end = (d: Date) => new Date(d.getTime() + DAY);
  const on = (d: Date) => Prisma.sql`count(*) FILTER (WHERE c."createdAt" >= ${ts(d)} AND c."createdAt" < ${ts(end(d))})`;
  const [row] = await db().$queryRaw<{ n: number[] }[]>`
    SELECT ARRAY[${Prisma.join(days.map(on))}]::int[] AS n
    FROM "Certificate" c
    ${whereOf([
      ...(customerId ? [Prisma.sql`c."customerId" = ${customerId}::uuid`] : []),
      Prisma.sql`c."createdAt" >= ${ts(days[0])} AND c."createdAt" < ${ts(end(days[days.length - 1]))}`,
    ])}`;
  return new Map(days.map((d, i) => [isoDay(d), row.n[i]]));
}

/**
 * Certificates issued per UTC day over the last 30 days. A day that is over never changes, so its count is
 * computed once and kept (IssuanceDay); only today (and yesterday, in the first hour) is counted each time.
 */
async function issuances(customerId: string | null, now: Date) {
  const scope = customerId ?? "all";
  const today = utcDay(now);
  const since = new Date(today.getTime() - (ISSUANCE_DAYS - 1) * DAY);
  const settled = now.getTime() - today.getTime() >= SETTLE_MS ? today : new Date(today.getTime() - DAY);
  const counts = new Map<string, number>();
  const kept = await db().issuanceDay.findMany({ where: { scope, day: { gte: since, lt: settled } }, select: { day: true, count: true } });
  for (const k of kept) counts.set(isoDay(k.day), k.count);
  const missing: Date[] = [];
  for (let t = since.getTime(); t < settled.getTime(); t += DAY) if (!counts.has(isoDay(new Date(t)))) missing.push(new Date(t));
  const open: Date[] = [];
  for (let t = settled.getTime(); t <= today.getTime(); t += DAY) open.push(new Date(t));
  const [past, live] = await Promise.all([issuedOn(customerId, missing), issuedOn(customerId, open)]);
  if (missing.length) {
    const data = missing.map((day) => ({ scope, day, count: past.get(isoDay(day)) ?? 0 }));
    await db().issuanceDay.createMany({ data, skipDuplicates: true });
    for (const d of data) counts.set(isoDay(d.day), d.count);
  }
  for (const [day, n] of live) counts.set(day, n);
  return Array.from({ length: ISSUANCE_DAYS }, (_, i) => {
    const day = isoDay(new Date(since.getTime() + i * DAY));
    return { day, n: counts.get(day) ?? 0 };
  });
}

/**
 * The overview, scoped to one customer or — staff — all of them: fleet counts as the fleet page counts its
 * filters (so each tile agrees with the page it links to), rotation compliance
 * of active devices, issuances per day and upcoming expiries by week. Reads Device indexes, today's
 * certificates and the per-day issuance rollup, never a month of certificates: fast at a million devices
 * (`pss bench fleet`).
 */
export async function fleetStats(customerId: string | null, now = new Date()) {
  // the counts the fleet page shows for the same filters (estimates beyond COUNT_CAP), so a tile and the page it
  // links to agree; one fleet clock for all of them
  const filters: FilterInput[] = [
    { status: "all" },
    { status: "active" },
    { status: "active", overdue: "1" },
    { status: "all", overdue: "1" },
    { status: "expired" },
    { status: "quarantined" },
  ];
  const [[devices, active, activeOverdue, overdue, expired, quarantined], expiries, issued] = await Promise.all([
    withFleetClock(true, (clock) => countFleet(filters.map((q) => fleetFilter(q, { customerId }, now, clock)))),
    upcomingExpiries(customerId, now),
    issuances(customerId, now),
  ]);
  return {
    devices,
    active,
    overdue,
    expired,
    quarantined,
    expiring: { total: expiries.expiring30, totalExact: expiries.exact } satisfies FleetCount,
    compliance: {
      compliant: Math.max(0, active.total - activeOverdue.total),
      overdue: activeOverdue.total,
      exact: active.totalExact && activeOverdue.totalExact,
    },
    issuances: issued,
    expiries: { weeks: expiries.weeks, exact: expiries.exact },
  };
}
