// Periodic work every app process runs (SPEC §2, §6): rotate the CAs that are due and reissue CRLs older
// than 12 h. Safe with several processes: rotations race on a unique (scope, generation) and the loser
// gets a clean refusal; a duplicate CRL is harmless.
import { rotateDueCas } from "../lib/data/ca/hierarchy.ts";
import { reissueStaleCrls } from "../lib/data/revocation/crl.ts";
import { log } from "../lib/log.ts";

const HOUR = 3_600_000;

export async function runScheduledChecks(): Promise<void> {
  try {
    const { rotated } = await rotateDueCas();
    if (rotated.length) log.info({ rotated }, "rotated CAs that were due");
    const published = await reissueStaleCrls();
    if (published) log.info({ published }, "reissued CRLs older than 12 h");
  } catch (e) {
    log.error({ err: e instanceof Error ? e.message : String(e) }, "scheduled CA/CRL check failed");
  }
}

/** Run the checks now and every hour; returns a stop function. */
export function startScheduler(): () => void {
  void runScheduledChecks();
  const timer = setInterval(() => void runScheduledChecks(), HOUR);
  timer.unref();
  return () => clearInterval(timer);
}
