-- DropIndex
DROP INDEX "CertificateAuthority_kind_customerId_profile_generation_key";

-- AlterTable
ALTER TABLE "CertificateAuthority" ADD COLUMN     "keyHashSha1" TEXT NOT NULL,
ADD COLUMN     "keyHashSha256" TEXT NOT NULL,
ADD COLUMN     "scope" TEXT NOT NULL;

-- CreateIndex
CREATE UNIQUE INDEX "CertificateAuthority_keyHashSha1_key" ON "CertificateAuthority"("keyHashSha1");

-- CreateIndex
CREATE UNIQUE INDEX "CertificateAuthority_keyHashSha256_key" ON "CertificateAuthority"("keyHashSha256");

-- CreateIndex
CREATE UNIQUE INDEX "CertificateAuthority_scope_generation_key" ON "CertificateAuthority"("scope", "generation");
