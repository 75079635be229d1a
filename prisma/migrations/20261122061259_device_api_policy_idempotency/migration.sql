-- AlterTable
ALTER TABLE "Certificate" ADD COLUMN     "quarantineReason" TEXT,
ADD COLUMN     "quarantinedAt" TIMESTAMP(3),
ADD COLUMN     "replacesId" UUID;

-- CreateTable
CREATE TABLE "EnrollmentPolicy" (
    "id" UUID NOT NULL,
    "customerId" UUID NOT NULL,
    "bootstrapCertId" UUID,
    "allowDeviceIds" TEXT[],
    "denyDeviceIds" TEXT[],
    "maxEnrollments" INTEGER,
    "enrollUntil" TIMESTAMP(3),
    "requireDeviceSecret" BOOLEAN NOT NULL DEFAULT false,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "EnrollmentPolicy_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DeviceSecret" (
    "customerId" UUID NOT NULL,
    "deviceId" TEXT NOT NULL,
    "secretHash" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "usedAt" TIMESTAMP(3),

    CONSTRAINT "DeviceSecret_pkey" PRIMARY KEY ("customerId","deviceId")
);

-- CreateTable
CREATE TABLE "EnrollmentGroup" (
    "id" UUID NOT NULL,
    "customerId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "caCertDer" BYTEA NOT NULL,
    "caSubject" TEXT NOT NULL,
    "caSha256" TEXT NOT NULL,
    "uid" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "disabledAt" TIMESTAMP(3),

    CONSTRAINT "EnrollmentGroup_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "IdempotencyRecord" (
    "customerId" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "requestHash" TEXT NOT NULL,
    "status" INTEGER NOT NULL,
    "response" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "IdempotencyRecord_pkey" PRIMARY KEY ("customerId","key")
);

-- CreateIndex
CREATE UNIQUE INDEX "EnrollmentPolicy_customerId_bootstrapCertId_key" ON "EnrollmentPolicy"("customerId", "bootstrapCertId");

-- CreateIndex
CREATE INDEX "EnrollmentGroup_caSha256_idx" ON "EnrollmentGroup"("caSha256");

-- CreateIndex
CREATE UNIQUE INDEX "EnrollmentGroup_customerId_name_key" ON "EnrollmentGroup"("customerId", "name");

-- CreateIndex
CREATE INDEX "IdempotencyRecord_createdAt_idx" ON "IdempotencyRecord"("createdAt");

-- CreateIndex
CREATE INDEX "Certificate_replacesId_idx" ON "Certificate"("replacesId");
