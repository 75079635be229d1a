-- CreateIndex
CREATE INDEX "Certificate_customerId_kind_createdAt_id_idx" ON "Certificate"("customerId", "kind", "createdAt", "id");
