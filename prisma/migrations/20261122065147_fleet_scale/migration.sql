-- DropIndex
DROP INDEX "Device_customerId_enrolledAt_idx";

-- DropIndex
DROP INDEX "Device_customerId_lastRotatedAt_idx";

-- AlterTable
ALTER TABLE "Device" ADD COLUMN     "currentCertId" UUID,
ADD COLUMN     "currentNotAfter" TIMESTAMP(3),
ADD COLUMN     "currentRevokedAt" TIMESTAMP(3),
ADD COLUMN     "currentSerial" TEXT,
ADD COLUMN     "uid" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "Device_currentCertId_key" ON "Device"("currentCertId");

-- CreateIndex
CREATE INDEX "Device_customerId_enrolledAt_id_idx" ON "Device"("customerId", "enrolledAt", "id");

-- CreateIndex
CREATE INDEX "Device_customerId_lastRotatedAt_id_idx" ON "Device"("customerId", "lastRotatedAt", "id");

-- CreateIndex
CREATE INDEX "Device_customerId_currentNotAfter_id_idx" ON "Device"("customerId", "currentNotAfter", "id");

-- CreateIndex
CREATE INDEX "Device_enrolledAt_id_idx" ON "Device"("enrolledAt", "id");

-- CreateIndex
CREATE INDEX "Device_lastRotatedAt_id_idx" ON "Device"("lastRotatedAt", "id");

-- CreateIndex
CREATE INDEX "Device_currentNotAfter_id_idx" ON "Device"("currentNotAfter", "id");

-- CreateIndex
CREATE INDEX "Device_uid_customerId_idx" ON "Device"("uid", "customerId");

-- CreateIndex
CREATE INDEX "Device_currentSerial_idx" ON "Device"("currentSerial");

-- Device id prefix search (LIKE with a prefix): unless the collation is C, a plain B-tree cannot serve it;
-- text_pattern_ops can. Prisma cannot express an operator class on a B-tree (see schema.prisma).
CREATE INDEX "Device_deviceId_prefix_idx" ON "Device"("deviceId" text_pattern_ops);

-- Backfill: the current (newest) Client TLS certificate of each device.
UPDATE "Device" d
SET "currentCertId" = c.id, "currentSerial" = c.serial, "currentNotAfter" = c."notAfter",
    "currentRevokedAt" = c."revokedAt", "uid" = c.uid
FROM (
  SELECT DISTINCT ON ("deviceRef") id, "deviceRef", serial, "notAfter", "revokedAt", uid
  FROM "Certificate"
  WHERE "deviceRef" IS NOT NULL AND kind = 'CLIENT_TLS'
  ORDER BY "deviceRef", "createdAt" DESC, id DESC
) c
WHERE c."deviceRef" = d.id;
