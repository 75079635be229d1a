// Periodic work every app process runs (SPEC §2, §6, §8): rotate the CAs that are due, reissue CRLs older
// than 12 h, and move the fleet clock (every 10 minutes: the fleet's filters stay exact without it, but get
// slower as it ages). Safe with several processes: rotations race on a unique (scope, generation) and the
// loser gets a clean refusal; a duplicate CRL is harmless; sweeps serialize on the fleet lock.
import { rotateDueCas } from "../lib/data/ca/hierarchy.ts";
import { sweepFleetState } from "../lib/data/fleet/sweep-fleet-state.ts";
import { pruneExpiredRows } from "../lib/data/maintenance/prune.ts";
import { reissueStaleCrls } from "../lib/data/revocation/crl.ts";
import { isAppError } from "../lib/errors.ts";
import { log } from "../lib/log.ts";

const HOUR = 3_600_000;
const FLEET_SWEEP_MS = 10 * 60_000;

/**
 * The hourly CA and CRL checks, each on its own: a CA whose rotation fails (rotateDueCas logs it and goes on with the
 * others) or a check that cannot run at all never keeps the CRLs from being reissued.
 */
export async function runScheduledChecks(): Promise<void> {
  try {
    const { rotated } = await rotateDueCas();
    if (rotated.length) log.info({ rotated }, "rotated CAs that were due");
  } catch (e) {
    log.error({ err: e instanceof Error ? e.message : String(e) }, "scheduled CA rotation check failed");
  }
  try {
    const published = await reissueStaleCrls();
    if (published) log.info({ published }, "reissued CRLs older than 12 h");
  } catch (e) {
    log.error({ err: e instanceof Error ? e.message : String(e) }, "scheduled CRL reissue failed");
  }
  try {
    const pruned = await pruneExpiredRows();
    if (Object.values(pruned).some((n) => n > 0)) log.info(pruned, "deleted expired rate-limit windows, nonces and batch answers");
  } catch (e) {
    log.error({ err: e instanceof Error ? e.message : String(e) }, "scheduled prune failed");
  }
}

export async function sweepFleet(): Promise<void> {
  try {
    const { reclassified } = await sweepFleetState();
    if (reclassified) log.info({ reclassified }, "fleet clock moved");
  } catch (e) {
    // device writes held the fleet lock: the next sweep catches up
    if (isAppError(e) && e.code === "fleet_sweep_busy") return;
    log.error({ err: e instanceof Error ? e.message : String(e) }, "fleet sweep failed");
  }
}

/** Run the checks now and every hour, the fleet sweep every 10 minutes; returns a stop function. */
export function startScheduler(): () => void {
  void runScheduledChecks().then(sweepFleet);
  const timers = [setInterval(() => void runScheduledChecks(), HOUR), setInterval(() => void sweepFleet(), FLEET_SWEEP_MS)];
  for (const t of timers) t.unref();
  return () => {
    for (const t of timers) clearInterval(t);
  };
}
