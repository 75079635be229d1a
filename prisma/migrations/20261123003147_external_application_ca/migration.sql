-- Application CAs under a customer-supplied parent (SPEC §2): the pending CSR, and the customer chain of an imported CA.
-- AlterTable
ALTER TABLE "CertificateAuthority" ADD COLUMN     "externalChain" BYTEA;

-- CreateTable
CREATE TABLE "PendingCa" (
    "id" UUID NOT NULL,
    "customerId" UUID NOT NULL,
    "profile" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "generation" INTEGER NOT NULL,
    "subject" TEXT NOT NULL,
    "keyRef" TEXT NOT NULL,
    "csrDer" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PendingCa_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "PendingCa_keyRef_key" ON "PendingCa"("keyRef");

-- CreateIndex
CREATE INDEX "PendingCa_customerId_idx" ON "PendingCa"("customerId");

-- AddForeignKey
ALTER TABLE "PendingCa" ADD CONSTRAINT "PendingCa_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "Customer"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
