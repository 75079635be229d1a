-- A device cut off by the revocation of its customer's TLS issuing CA, together with the customer's bootstrapping
-- certificates, is reset "open": any bootstrapping certificate of the customer issued after the reset may
-- re-enroll it, the first to try claiming it (resetFor set, resetOpen cleared) — SPEC §6.
ALTER TABLE "Device" ADD COLUMN     "resetOpen" BOOLEAN NOT NULL DEFAULT false;
