-- Fleet state (SPEC §8, issue 6): every status and rotation-overdue filter of the fleet becomes an index range at
-- a million devices, without ever answering from a stale classification.
--
-- Device.fleetState and Device.fleetOverdue hold the classification as of FleetClock.sweptAt (W): a BEFORE
-- trigger computes them on every Device write, whoever the writer is, and fleet_sweep() moves W (the scheduler
-- calls it), re-classifying only the devices whose expiry or 30-day rotation deadline lies between the old and
-- the new W. The fleet query reads each stored class through its index for the devices whose deadline does not
-- fall between W and the request's time (their class then is the stored one), and the few whose deadline does,
-- checked with the exact classification at that time (lib/data/fleet/fleet-filter.ts). No answer is stale,
-- whenever the sweep last ran: an old W only makes the second part bigger.
--
-- Device.quarantined: enrolled with a bootstrapping certificate that is quarantined and not revoked. Kept by a
-- trigger on Device (insert, or a new enrolledById) and one on Certificate (quarantine, release, revocation).
--
-- PL/pgSQL bodies are E'' strings with \x3B for each semicolon: on PostgreSQL the migrator's driver adapter
-- (adapter-pg executeScript) splits the script at every semicolon character, so none may appear inside a
-- statement (nor in a comment, except at the end of a line).

-- CreateEnum
CREATE TYPE "FleetState" AS ENUM ('ACTIVE', 'EXPIRED', 'REVOKED', 'QUARANTINED', 'NONE');

-- AlterTable
ALTER TABLE "Device" ADD COLUMN     "fleetOverdue" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "fleetState" "FleetState" NOT NULL DEFAULT 'NONE',
ADD COLUMN     "quarantined" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "FleetClock" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "sweptAt" TIMESTAMP(3) NOT NULL,
    "generation" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "FleetClock_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "IssuanceDay" (
    "scope" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "count" INTEGER NOT NULL,

    CONSTRAINT "IssuanceDay_pkey" PRIMARY KEY ("scope","day")
);

-- Timestamps are stored as UTC without a zone (Prisma's convention), so the clock is read in UTC.
INSERT INTO "FleetClock" ("id", "sweptAt", "generation") VALUES (1, now() AT TIME ZONE 'UTC', 0);

-- The one definition of a device's fleet state and rotation-overdue flag at a moment `at`, used by the trigger,
-- the sweep and the fleet query (plain SQL functions: the planner inlines them). Precedence: revoked
-- (decommissioned, or the current certificate revoked), quarantined, no certificate, expired, active. Overdue:
-- a device not decommissioned whose last Client TLS issuance is older than 30 days (SPEC §5, and
-- ROTATION_OVERDUE_DAYS in lib/data/fleet/fleet-filter.ts).
CREATE FUNCTION fleet_state(status "DeviceStatus", revoked_at TIMESTAMP(3), quarantined BOOLEAN, not_after TIMESTAMP(3), at TIMESTAMP(3))
RETURNS "FleetState" LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (CASE
    WHEN status = 'DECOMMISSIONED' OR revoked_at IS NOT NULL THEN 'REVOKED'
    WHEN quarantined THEN 'QUARANTINED'
    WHEN not_after IS NULL THEN 'NONE'
    WHEN not_after <= at THEN 'EXPIRED'
    ELSE 'ACTIVE'
  END)::"FleetState"
$$;

CREATE FUNCTION fleet_overdue(status "DeviceStatus", last_rotated_at TIMESTAMP(3), at TIMESTAMP(3))
RETURNS BOOLEAN LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT status = 'ACTIVE' AND last_rotated_at < at - interval '30 days'
$$;

-- Backfill, before the new indexes and the triggers exist: the few quarantined devices, then one pass over all.
UPDATE "Device" SET "quarantined" = true
WHERE "enrolledById" IN (SELECT id FROM "Certificate" WHERE kind = 'BOOTSTRAP' AND "quarantinedAt" IS NOT NULL AND "revokedAt" IS NULL);

UPDATE "Device" d
SET "fleetState" = fleet_state(d.status, d."currentRevokedAt", d."quarantined", d."currentNotAfter", k."sweptAt"),
    "fleetOverdue" = fleet_overdue(d.status, d."lastRotatedAt", k."sweptAt")
FROM "FleetClock" k
WHERE k.id = 1;

-- CreateIndex
CREATE INDEX "Certificate_customerId_createdAt_idx" ON "Certificate"("customerId", "createdAt");

-- CreateIndex
CREATE INDEX "Certificate_createdAt_idx" ON "Certificate"("createdAt");

-- CreateIndex
CREATE INDEX "Device_customerId_fleetState_fleetOverdue_enrolledAt_id_idx" ON "Device"("customerId", "fleetState", "fleetOverdue", "enrolledAt", "id");

-- CreateIndex
CREATE INDEX "Device_customerId_fleetState_fleetOverdue_lastRotatedAt_id_idx" ON "Device"("customerId", "fleetState", "fleetOverdue", "lastRotatedAt", "id");

-- CreateIndex
CREATE INDEX "Device_customerId_fleetState_fleetOverdue_currentNotAfter_i_idx" ON "Device"("customerId", "fleetState", "fleetOverdue", "currentNotAfter", "id");

-- CreateIndex
CREATE INDEX "Device_fleetState_fleetOverdue_enrolledAt_id_idx" ON "Device"("fleetState", "fleetOverdue", "enrolledAt", "id");

-- CreateIndex
CREATE INDEX "Device_fleetState_fleetOverdue_lastRotatedAt_id_idx" ON "Device"("fleetState", "fleetOverdue", "lastRotatedAt", "id");

-- CreateIndex
CREATE INDEX "Device_fleetState_fleetOverdue_currentNotAfter_id_idx" ON "Device"("fleetState", "fleetOverdue", "currentNotAfter", "id");

-- CreateIndex
CREATE INDEX "Device_enrolledById_idx" ON "Device"("enrolledById");

-- The two class columns are strongly correlated (every expired device is overdue): without joint statistics the
-- planner multiplies their frequencies and misjudges every status filter by a factor of three.
CREATE STATISTICS "Device_fleet_class_stats" (mcv) ON "fleetState", "fleetOverdue" FROM "Device";

-- Every statement that writes Device shares advisory lock 1886614374 ("pssf") until its transaction ends, and
-- fleet_sweep() takes it exclusively. So a sweep waits for (and then sees) every write that classified its
-- rows with the old W, and every later write reads the new W: no row is left classified for another W. Taken
-- per statement, before any row is locked, so a writer waiting here holds no row the sweep needs.
CREATE FUNCTION fleet_clock_share() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  PERFORM pg_advisory_xact_lock_shared(1886614374)\x3B
  RETURN NULL\x3B
END';

CREATE TRIGGER "Device_fleet_clock" BEFORE INSERT OR UPDATE ON "Device"
  FOR EACH STATEMENT EXECUTE FUNCTION fleet_clock_share();

-- The row trigger. quarantined is looked up when a device is created or its enrolling certificate changes
-- (no race with a quarantine: that happens under the enrollment budget's lock on the certificate row, and a
-- quarantined certificate enrolls nothing), then both classes are computed as of W.
CREATE FUNCTION fleet_device_state() RETURNS trigger LANGUAGE plpgsql AS E'
DECLARE
  swept TIMESTAMP(3)\x3B
BEGIN
  IF TG_OP = ''INSERT'' OR NEW."enrolledById" IS DISTINCT FROM OLD."enrolledById" THEN
    NEW."quarantined" := NEW."enrolledById" IS NOT NULL AND EXISTS (SELECT 1 FROM "Certificate" c
      WHERE c.id = NEW."enrolledById" AND c."quarantinedAt" IS NOT NULL AND c."revokedAt" IS NULL)\x3B
  END IF\x3B
  SELECT "sweptAt" INTO swept FROM "FleetClock" WHERE id = 1\x3B
  NEW."fleetState" := fleet_state(NEW.status, NEW."currentRevokedAt", NEW."quarantined", NEW."currentNotAfter", swept)\x3B
  NEW."fleetOverdue" := fleet_overdue(NEW.status, NEW."lastRotatedAt", swept)\x3B
  RETURN NEW\x3B
END';

CREATE TRIGGER "Device_fleet_state" BEFORE INSERT OR UPDATE ON "Device"
  FOR EACH ROW EXECUTE FUNCTION fleet_device_state();

-- Quarantine, release or revocation of a bootstrapping certificate re-marks the devices it enrolled.
CREATE FUNCTION fleet_bootstrap_quarantine() RETURNS trigger LANGUAGE plpgsql AS E'
BEGIN
  UPDATE "Device" SET "quarantined" = (NEW."quarantinedAt" IS NOT NULL AND NEW."revokedAt" IS NULL)
  WHERE "enrolledById" = NEW.id\x3B
  RETURN NULL\x3B
END';

CREATE TRIGGER "Certificate_fleet_quarantine" AFTER UPDATE OF "quarantinedAt", "revokedAt" ON "Certificate"
  FOR EACH ROW
  WHEN (NEW.kind = 'BOOTSTRAP' AND (OLD."quarantinedAt" IS NOT NULL AND OLD."revokedAt" IS NULL)
    <> (NEW."quarantinedAt" IS NOT NULL AND NEW."revokedAt" IS NULL))
  EXECUTE FUNCTION fleet_bootstrap_quarantine();

-- Move W to `target` (default: now, in UTC) and re-classify the devices whose expiry or rotation deadline lies
-- between the old and the new W. Returns how many changed. Either direction is correct (tests move it back).
-- The UPDATE sets fleetState only to make the write: the row trigger computes both columns for the new W.
CREATE FUNCTION fleet_sweep(target TIMESTAMP(3) DEFAULT NULL) RETURNS INTEGER LANGUAGE plpgsql AS E'
DECLARE
  old TIMESTAMP(3)\x3B
  lo TIMESTAMP(3)\x3B
  hi TIMESTAMP(3)\x3B
  moved INTEGER\x3B
BEGIN
  PERFORM pg_advisory_xact_lock(1886614374)\x3B
  target := coalesce(target, clock_timestamp() AT TIME ZONE ''UTC'')\x3B
  SELECT "sweptAt" INTO old FROM "FleetClock" WHERE id = 1 FOR UPDATE\x3B
  IF NOT FOUND THEN
    RAISE EXCEPTION ''FleetClock row 1 is missing (migration 20261122082632_fleet_state creates it)''\x3B
  END IF\x3B
  UPDATE "FleetClock" SET "sweptAt" = target, "generation" = "generation" + 1 WHERE id = 1\x3B
  lo := least(old, target)\x3B
  hi := greatest(old, target)\x3B
  UPDATE "Device" d SET "fleetState" = fleet_state(d.status, d."currentRevokedAt", d."quarantined", d."currentNotAfter", target)
  WHERE ((d."currentNotAfter" > lo AND d."currentNotAfter" <= hi)
      OR (d."lastRotatedAt" >= lo - interval ''30 days'' AND d."lastRotatedAt" < hi - interval ''30 days''))
    AND (d."fleetState" <> fleet_state(d.status, d."currentRevokedAt", d."quarantined", d."currentNotAfter", target)
      OR d."fleetOverdue" <> fleet_overdue(d.status, d."lastRotatedAt", target))\x3B
  GET DIAGNOSTICS moved = ROW_COUNT\x3B
  RETURN moved\x3B
END';
