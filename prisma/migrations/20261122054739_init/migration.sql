-- CreateEnum
CREATE TYPE "Role" AS ENUM ('STAFF', 'CUSTOMER_ADMIN', 'CUSTOMER_VIEWER');

-- CreateEnum
CREATE TYPE "CaKind" AS ENUM ('ROOT', 'BOOTSTRAP_INTERMEDIATE', 'BOOTSTRAP_ISSUING', 'TLS_INTERMEDIATE', 'CUSTOMER_TLS_ISSUING', 'APPLICATION');

-- CreateEnum
CREATE TYPE "CaStatus" AS ENUM ('ACTIVE', 'RETIRED', 'REVOKED');

-- CreateEnum
CREATE TYPE "CertKind" AS ENUM ('BOOTSTRAP', 'CLIENT_TLS', 'APPLICATION', 'SERVER', 'OCSP_RESPONDER');

-- CreateEnum
CREATE TYPE "DeviceStatus" AS ENUM ('ACTIVE', 'DECOMMISSIONED');

-- CreateTable
CREATE TABLE "Customer" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Customer_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "User" (
    "id" UUID NOT NULL,
    "uid" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "name" TEXT,
    "passwordHash" TEXT,
    "role" "Role" NOT NULL,
    "customerId" UUID,
    "disabledAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "User_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OAuthClient" (
    "id" UUID NOT NULL,
    "clientId" TEXT NOT NULL,
    "secretHash" TEXT NOT NULL,
    "userId" UUID NOT NULL,
    "customerId" UUID NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" TIMESTAMP(3),
    "disabledAt" TIMESTAMP(3),

    CONSTRAINT "OAuthClient_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "PayloadSigningKey" (
    "id" UUID NOT NULL,
    "kid" TEXT NOT NULL,
    "alg" TEXT NOT NULL,
    "jwk" JSONB NOT NULL,
    "userId" UUID NOT NULL,
    "customerId" UUID NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "disabledAt" TIMESTAMP(3),

    CONSTRAINT "PayloadSigningKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CertificateAuthority" (
    "id" UUID NOT NULL,
    "kind" "CaKind" NOT NULL,
    "profile" TEXT,
    "customerId" UUID,
    "generation" INTEGER NOT NULL,
    "subject" TEXT NOT NULL,
    "status" "CaStatus" NOT NULL DEFAULT 'ACTIVE',
    "parentId" UUID,
    "certDer" BYTEA NOT NULL,
    "serial" TEXT NOT NULL,
    "ski" TEXT NOT NULL,
    "keyRef" TEXT NOT NULL,
    "keyAlgorithm" TEXT NOT NULL,
    "notBefore" TIMESTAMP(3) NOT NULL,
    "notAfter" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "retiredAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),
    "revocationReason" TEXT,

    CONSTRAINT "CertificateAuthority_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "KeyMaterial" (
    "ref" TEXT NOT NULL,
    "algorithm" TEXT NOT NULL,
    "iv" BYTEA NOT NULL,
    "ciphertext" BYTEA NOT NULL,
    "tag" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "KeyMaterial_pkey" PRIMARY KEY ("ref")
);

-- CreateTable
CREATE TABLE "SystemSetting" (
    "key" TEXT NOT NULL,
    "value" TEXT NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "SystemSetting_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "Device" (
    "id" UUID NOT NULL,
    "customerId" UUID NOT NULL,
    "deviceId" TEXT NOT NULL,
    "status" "DeviceStatus" NOT NULL DEFAULT 'ACTIVE',
    "enrolledById" UUID,
    "enrolledAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastRotatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "decommissionedAt" TIMESTAMP(3),

    CONSTRAINT "Device_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Certificate" (
    "id" UUID NOT NULL,
    "serial" TEXT NOT NULL,
    "kind" "CertKind" NOT NULL,
    "profile" TEXT NOT NULL,
    "issuerId" UUID NOT NULL,
    "customerId" UUID,
    "deviceRef" UUID,
    "uid" TEXT,
    "subject" TEXT NOT NULL,
    "spkiSha256" TEXT NOT NULL,
    "der" BYTEA NOT NULL,
    "notBefore" TIMESTAMP(3) NOT NULL,
    "notAfter" TIMESTAMP(3) NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "authorizedBy" TEXT,
    "firstUsedAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),
    "revocationReason" TEXT,

    CONSTRAINT "Certificate_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Crl" (
    "id" UUID NOT NULL,
    "caId" UUID NOT NULL,
    "number" BIGSERIAL NOT NULL,
    "der" BYTEA NOT NULL,
    "thisUpdate" TIMESTAMP(3) NOT NULL,
    "nextUpdate" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Crl_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Nonce" (
    "scope" TEXT NOT NULL,
    "nonce" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Nonce_pkey" PRIMARY KEY ("scope","nonce")
);

-- CreateTable
CREATE TABLE "RateLimitBucket" (
    "key" TEXT NOT NULL,
    "windowStart" TIMESTAMP(3) NOT NULL,
    "count" INTEGER NOT NULL,

    CONSTRAINT "RateLimitBucket_pkey" PRIMARY KEY ("key","windowStart")
);

-- CreateTable
CREATE TABLE "AuditEvent" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "action" TEXT NOT NULL,
    "outcome" TEXT NOT NULL DEFAULT 'success',
    "actorType" TEXT NOT NULL,
    "actorId" TEXT,
    "customerId" UUID,
    "target" TEXT,
    "details" JSONB,
    "ip" TEXT,

    CONSTRAINT "AuditEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Customer_name_key" ON "Customer"("name");

-- CreateIndex
CREATE UNIQUE INDEX "User_uid_key" ON "User"("uid");

-- CreateIndex
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");

-- CreateIndex
CREATE INDEX "User_customerId_idx" ON "User"("customerId");

-- CreateIndex
CREATE UNIQUE INDEX "OAuthClient_clientId_key" ON "OAuthClient"("clientId");

-- CreateIndex
CREATE INDEX "OAuthClient_customerId_idx" ON "OAuthClient"("customerId");

-- CreateIndex
CREATE INDEX "PayloadSigningKey_customerId_idx" ON "PayloadSigningKey"("customerId");

-- CreateIndex
CREATE UNIQUE INDEX "PayloadSigningKey_userId_kid_key" ON "PayloadSigningKey"("userId", "kid");

-- CreateIndex
CREATE UNIQUE INDEX "CertificateAuthority_serial_key" ON "CertificateAuthority"("serial");

-- CreateIndex
CREATE UNIQUE INDEX "CertificateAuthority_keyRef_key" ON "CertificateAuthority"("keyRef");

-- CreateIndex
CREATE INDEX "CertificateAuthority_parentId_idx" ON "CertificateAuthority"("parentId");

-- CreateIndex
CREATE INDEX "CertificateAuthority_customerId_kind_status_idx" ON "CertificateAuthority"("customerId", "kind", "status");

-- CreateIndex
CREATE UNIQUE INDEX "CertificateAuthority_kind_customerId_profile_generation_key" ON "CertificateAuthority"("kind", "customerId", "profile", "generation");

-- CreateIndex
CREATE INDEX "Device_customerId_enrolledAt_idx" ON "Device"("customerId", "enrolledAt");

-- CreateIndex
CREATE INDEX "Device_customerId_lastRotatedAt_idx" ON "Device"("customerId", "lastRotatedAt");

-- CreateIndex
CREATE UNIQUE INDEX "Device_customerId_deviceId_key" ON "Device"("customerId", "deviceId");

-- CreateIndex
CREATE UNIQUE INDEX "Certificate_serial_key" ON "Certificate"("serial");

-- CreateIndex
CREATE INDEX "Certificate_issuerId_revokedAt_idx" ON "Certificate"("issuerId", "revokedAt");

-- CreateIndex
CREATE INDEX "Certificate_customerId_uid_idx" ON "Certificate"("customerId", "uid");

-- CreateIndex
CREATE INDEX "Certificate_deviceRef_createdAt_idx" ON "Certificate"("deviceRef", "createdAt");

-- CreateIndex
CREATE INDEX "Certificate_spkiSha256_idx" ON "Certificate"("spkiSha256");

-- CreateIndex
CREATE UNIQUE INDEX "Crl_number_key" ON "Crl"("number");

-- CreateIndex
CREATE INDEX "Crl_caId_number_idx" ON "Crl"("caId", "number");

-- CreateIndex
CREATE INDEX "Nonce_createdAt_idx" ON "Nonce"("createdAt");

-- CreateIndex
CREATE INDEX "AuditEvent_customerId_at_idx" ON "AuditEvent"("customerId", "at");

-- CreateIndex
CREATE INDEX "AuditEvent_action_at_idx" ON "AuditEvent"("action", "at");

-- AddForeignKey
ALTER TABLE "User" ADD CONSTRAINT "User_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "Customer"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "OAuthClient" ADD CONSTRAINT "OAuthClient_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "OAuthClient" ADD CONSTRAINT "OAuthClient_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "Customer"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PayloadSigningKey" ADD CONSTRAINT "PayloadSigningKey_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "PayloadSigningKey" ADD CONSTRAINT "PayloadSigningKey_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "Customer"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CertificateAuthority" ADD CONSTRAINT "CertificateAuthority_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "Customer"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CertificateAuthority" ADD CONSTRAINT "CertificateAuthority_parentId_fkey" FOREIGN KEY ("parentId") REFERENCES "CertificateAuthority"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Device" ADD CONSTRAINT "Device_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "Customer"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Certificate" ADD CONSTRAINT "Certificate_issuerId_fkey" FOREIGN KEY ("issuerId") REFERENCES "CertificateAuthority"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Certificate" ADD CONSTRAINT "Certificate_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "Customer"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Certificate" ADD CONSTRAINT "Certificate_deviceRef_fkey" FOREIGN KEY ("deviceRef") REFERENCES "Device"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Crl" ADD CONSTRAINT "Crl_caId_fkey" FOREIGN KEY ("caId") REFERENCES "CertificateAuthority"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AuditEvent" ADD CONSTRAINT "AuditEvent_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "Customer"("id") ON DELETE SET NULL ON UPDATE CASCADE;
