import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
// type-only: the scheduler (server/scheduler.ts) runs this outside the react-server condition
import type { FleetClock } from "./fleet-filter.ts";

/** How long the sweep may wait for Device writers (and they for it); well under PostgreSQL's 1 s deadlock_timeout. */
const LOCK_TIMEOUT = "200ms";

const lockTimedOut = (e: unknown) => /lock timeout|55P03/i.test(e instanceof Error ? e.message : String(e));

/**
 * Move the fleet clock (FleetClock.sweptAt) to `at` — default: the database's now — and re-classify the devices
 * whose expiry or 30-day rotation deadline passed in between (fleet_sweep() in migration
 * 20261122082632_fleet_state). The scheduler runs it; answers are exact without it, but the fleet query reads
 * every device whose deadline lies between the clock and now one by one, so an old clock makes filters slow.
 *
 * It waits at most LOCK_TIMEOUT for the lock that Device writes share, and for rows a writer holds: a device
 * write never waits longer than that behind a sweep, nor becomes a deadlock's victim (a writer that locked a
 * device row and then waits for the sweep). A sweep that gives up is `fleet_sweep_busy`; the next run catches up.
 */
export async function sweepFleetState(at?: Date): Promise<FleetClock & { reclassified: number }> {
  // A clock far behind (the scheduler did not run for a while) moves in steps, each its own short transaction:
  // Device writes — revocations among them — wait for one step at most, never for one long re-classification.
  let reclassified = 0;
  const target = (at ?? new Date()).getTime();
  for (;;) {
    const [{ sweptAt }] = await db().$queryRaw<FleetClock[]>`SELECT "sweptAt" FROM "FleetClock" WHERE id = 1`;
    if (target - sweptAt.getTime() <= SWEEP_STEP_MS) break;
    reclassified += (await sweepTo(new Date(sweptAt.getTime() + SWEEP_STEP_MS))).reclassified;
  }
  const last = await sweepTo(at);
  return { ...last, reclassified: reclassified + last.reclassified };
}

/** At most this much of the clock per transaction: a few dozen devices' deadlines at a million devices. */
const SWEEP_STEP_MS = 15 * 60_000;

async function sweepTo(at?: Date): Promise<FleetClock & { reclassified: number }> {
  try {
    return await db().$transaction(async (tx) => {
      await tx.$executeRawUnsafe(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
      const [{ moved }] = at
        ? await tx.$queryRaw<{ moved: number }[]>`SELECT fleet_sweep(${at.toISOString()}::timestamp) AS moved`
        : await tx.$queryRaw<{ moved: number }[]>`SELECT fleet_sweep() AS moved`;
      const [clock] = await tx.$queryRaw<FleetClock[]>`SELECT "sweptAt", generation FROM "FleetClock" WHERE id = 1`;
      return { ...clock, reclassified: moved };
    });
  } catch (e) {
    if (lockTimedOut(e)) throw new AppError("fleet_sweep_busy", "Device writes held the fleet lock; the next sweep catches up.", 503);
    throw e;
  }
}
