import { ROTATION_OVERDUE_DAYS } from "../devices/rotation-overdue.ts";
import "server-only";
import { Prisma } from "../../../generated/prisma/client.ts";
import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { normalizeSerial } from "../../pki/serial.ts";
import type { FleetQuery } from "../../validations/fleet.ts";

// How the fleet's filters reach an index at a million devices without ever answering from a stale class.
//
// A device's status (active, expired, revoked, quarantined) and rotation-overdue flag are defined once, in SQL:
// fleet_state() and fleet_overdue() (migration 20261122082632_fleet_state). Two of them change with time alone
// (an expiry passes, a rotation deadline passes), so no stored column can hold them exactly. The Device row
// stores them as of FleetClock.sweptAt (W) — a trigger on every write, fleet_sweep() to move W — and a filter
// is run as a union of index ranges ("guides"): each stored (state, overdue) pair the filter accepts, for the
// devices whose expiry and rotation deadline do not lie between W and the request's time (their class now is
// the stored one), plus the devices whose deadline does lie in between (a few: W is kept recent), each
// checked with the exact class at the request's time.

/** Counts stop here: beyond it the page shows the planner's estimate (no unbounded COUNT over a million rows). */
export const COUNT_CAP = 1000;
const DAY = 86_400_000;

export const FLEET_STATES = ["ACTIVE", "EXPIRED", "REVOKED", "QUARANTINED", "NONE"] as const;
export type FleetState = (typeof FLEET_STATES)[number];
const STATE_OF = { active: "ACTIVE", expired: "EXPIRED", revoked: "REVOKED", quarantined: "QUARANTINED" } as const;

/**
 * The tenant scope is the caller's decision (staff: a customer or all; customers: their own), never the URL's.
 * `uid` narrows it to the devices of one customer user (the customer API's `?uid=`).
 */
export type FleetScope = { customerId: string | null; uid?: string };

export const ts = (d: Date) => Prisma.sql`${d.toISOString()}::timestamp`;
export const whereOf = (parts: Prisma.Sql[]) => (parts.length ? Prisma.sql`WHERE ${Prisma.join(parts, " AND ")}` : Prisma.empty);
const anyOf = (parts: Prisma.Sql[]) => Prisma.sql`(${Prisma.join(parts, " OR ")})`;

/** The exact classification of `d` at `at` (the SQL functions, inlined by the planner). */
export const stateAt = (at: Date) => Prisma.sql`fleet_state(d.status, d."currentRevokedAt", d.quarantined, d."currentNotAfter", ${ts(at)})`;
export const overdueAt = (at: Date) => Prisma.sql`fleet_overdue(d.status, d."lastRotatedAt", ${ts(at)})`;

/** The sort the page really uses: "expiring within N days" lists by expiry (soonest first unless sorted by expiry). */
export function effectiveQuery<Q extends Pick<FleetQuery, "expiring" | "sort" | "dir">>(q: Q): Q {
  return q.expiring && q.sort !== "expiry" ? { ...q, sort: "expiry", dir: "asc" } : q;
}

export type FleetClock = { sweptAt: Date; generation: number };

export async function readFleetClock(): Promise<FleetClock> {
  const [row] = await db().$queryRaw<FleetClock[]>`SELECT "sweptAt", generation FROM "FleetClock" WHERE id = 1`;
  if (!row) throw new AppError("fleet_clock_missing", "The fleet clock row is missing: run the database migrations.", 500);
  return row;
}

/**
 * Run `fn` with the fleet clock it must plan with. A sweep that commits while it runs may have re-classified
 * rows for another W, so the clock is read again afterwards and `fn` runs again if it moved (sweeps are
 * minutes apart; a query is milliseconds). Filters that do not depend on time skip all of this.
 */
export async function withFleetClock<T>(needed: boolean, fn: (clock: FleetClock | null) => Promise<T>): Promise<T> {
  if (!needed) return fn(null);
  for (let attempt = 0; attempt < 5; attempt++) {
    const clock = await readFleetClock();
    const out = await fn(clock);
    if ((await readFleetClock()).generation === clock.generation) return out;
  }
  throw new AppError("fleet_busy", "The fleet classification kept moving during the query; try again.", 503);
}

/** The smallest string greater than every string starting with `p` (byte order, as text_pattern_ops compares). */
function prefixEnd(p: string): string | null {
  const cps = [...p];
  const last = cps.pop()?.codePointAt(0);
  if (last === undefined || last >= 0x10ffff || (last >= 0xd7ff && last < 0xe000)) return null;
  return cps.join("") + String.fromCodePoint(last + 1);
}

function search(term: string): Prisma.Sql {
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
  return Prisma.sql`(${prefix} OR d.uid = ${term}${bySerial})`;
}

export type FilterInput = Pick<FleetQuery, "q" | "status" | "overdue" | "expiring">;

export type FleetFilter = {
  /** plain column predicates (scope, search, expiry window) */
  base: Prisma.Sql[];
  /**
   * Index ranges whose union is exactly the devices of the status / rotation-overdue filter at the request's
   * time; null when the filter asks for neither. Each stored (state, overdue) pair the filter accepts, minus the
   * devices whose deadline lies between W and now — their stored class is their class now — and those devices,
   * checked with the exact class at now. (Plain ranges on real columns, rather than the exact class on every
   * row, also keep the planner's estimates right.)
   */
  guides: Prisma.Sql[] | null;
};

/** Whether a filter's answer depends on the fleet clock (a class that changes with time alone). */
export const needsClock = (q: FilterInput) => q.status === "active" || q.status === "expired" || !!q.overdue;

const and = (parts: Prisma.Sql[]) => Prisma.sql`(${Prisma.join(parts, " AND ")})`;

/** The devices whose class can differ between the moments `lo` and `hi` (expired ⇔ notAfter ≤ t, overdue ⇔ lastRotatedAt < t − 30 days). */
function windows(q: FilterInput, lo: Date, hi: Date): { inside: Prisma.Sql; outside: Prisma.Sql }[] {
  const out: { inside: Prisma.Sql; outside: Prisma.Sql }[] = [];
  if (lo.getTime() >= hi.getTime()) return out;
  if (q.status === "active" || q.status === "expired") {
    const col = Prisma.sql`d."currentNotAfter"`;
    out.push({
      inside: Prisma.sql`(${col} > ${ts(lo)} AND ${col} <= ${ts(hi)})`,
      outside: Prisma.sql`(${col} IS NULL OR ${col} <= ${ts(lo)} OR ${col} > ${ts(hi)})`,
    });
  }
  if (q.overdue) {
    const col = Prisma.sql`d."lastRotatedAt"`;
    const [from, to] = [lo, hi].map((t) => ts(new Date(t.getTime() - ROTATION_OVERDUE_DAYS * DAY)));
    out.push({ inside: Prisma.sql`(${col} >= ${from} AND ${col} < ${to})`, outside: Prisma.sql`(${col} < ${from} OR ${col} >= ${to})` });
  }
  return out;
}

export function fleetFilter(q: FilterInput, scope: FleetScope, now: Date, clock: FleetClock | null): FleetFilter {
  const base: Prisma.Sql[] = [];
  if (scope.customerId) base.push(Prisma.sql`d."customerId" = ${scope.customerId}::uuid`);
  if (scope.uid !== undefined) base.push(Prisma.sql`d.uid = ${scope.uid}`);
  if (q.q) base.push(search(q.q));
  if (q.expiring) {
    // a live certificate (not revoked, device not decommissioned) whose expiry is within the next N days
    const until = new Date(now.getTime() + q.expiring * DAY);
    base.push(Prisma.sql`(d."currentNotAfter" > ${ts(now)} AND d."currentNotAfter" <= ${ts(until)}
      AND d.status = 'ACTIVE' AND d."currentRevokedAt" IS NULL)`);
  }
  if (q.status === "all" && !q.overdue) return { base, guides: null };

  const states: readonly FleetState[] = q.status === "all" ? FLEET_STATES : [STATE_OF[q.status]];
  const overdue = q.overdue ? [true] : [false, true];
  let moving: { inside: Prisma.Sql; outside: Prisma.Sql }[] = [];
  if (needsClock(q)) {
    if (!clock) throw new Error("fleetFilter: this filter needs the fleet clock");
    const [lo, hi] = [now, clock.sweptAt].sort((a, b) => a.getTime() - b.getTime());
    moving = windows(q, lo, hi);
  }
  const stored = states.flatMap((s) =>
    overdue.map((o) => and([Prisma.sql`d."fleetState" = ${s}::"FleetState" AND d."fleetOverdue" = ${o}`, ...moving.map((w) => w.outside)])),
  );
  const exact = [
    ...(q.status === "all" ? [] : [Prisma.sql`${stateAt(now)} = ${STATE_OF[q.status]}::"FleetState"`]),
    ...(q.overdue ? [overdueAt(now)] : []),
  ];
  return { base, guides: [...stored, ...moving.map((w) => and([w.inside, ...exact]))] };
}

/** Every predicate of the filter as one WHERE list (no union): for a count. */
export function allOf(f: FleetFilter): Prisma.Sql[] {
  return f.guides ? [...f.base, anyOf(f.guides)] : f.base;
}

/** Past this estimate a count is not worth an exact scan: the estimate is shown (marked as one). */
export const ESTIMATE_ABOVE = 4 * COUNT_CAP;

type PlanNode = { "Node Type"?: string; "Plan Rows"?: number; Plans?: PlanNode[] };

/**
 * The planner's estimates of the devices each WHERE clause (over `d`) selects: planning only, nothing is read.
 * One EXPLAIN for all of them (a UNION ALL, whose Append node lists each arm's estimate in order).
 */
export async function estimateDevices(wheres: Prisma.Sql[]): Promise<number[]> {
  if (!wheres.length) return [];
  const arms = wheres.map((w) => Prisma.sql`SELECT 1 FROM "Device" d ${w}`);
  const out = await db().$queryRaw<Record<string, unknown>[]>`EXPLAIN (FORMAT JSON) ${Prisma.join(arms, " UNION ALL ")}`;
  const raw = Object.values(out[0] ?? {})[0];
  const plan = ((typeof raw === "string" ? JSON.parse(raw) : raw) as { Plan?: PlanNode }[])?.[0]?.Plan;
  const nodes = wheres.length === 1 ? [plan] : plan?.["Node Type"] === "Append" ? (plan.Plans ?? []) : [];
  // an arm the planner proved empty is left out of the Append: then ask arm by arm
  if (nodes.length !== wheres.length) return (await Promise.all(wheres.map((w) => estimateDevices([w])))).flat();
  return nodes.map((n) => Math.round(n?.["Plan Rows"] ?? 0));
}

/**
 * Counts of several filters: the planner's estimates first (one EXPLAIN, no scan); an exact count, capped at
 * COUNT_CAP, only for those the estimate says are small enough for that to be cheap. Never an unbounded COUNT.
 */
export async function countFleet(filters: FleetFilter[]): Promise<{ total: number; totalExact: boolean }[]> {
  const wheres = filters.map((f) => whereOf(allOf(f)));
  const estimates = await estimateDevices(wheres);
  return Promise.all(
    estimates.map(async (estimate, i) => {
      if (estimate > ESTIMATE_ABOVE) return { total: estimate, totalExact: false };
      const [{ n }] = await db().$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM (
        SELECT 1 FROM "Device" d ${wheres[i]} LIMIT ${COUNT_CAP + 1}) t`;
      if (n <= COUNT_CAP) return { total: n, totalExact: true };
      return { total: Math.max(estimate, COUNT_CAP + 1), totalExact: false };
    }),
  );
}
