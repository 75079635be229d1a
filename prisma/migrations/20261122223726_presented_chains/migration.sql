-- The CA certificates a manufacturer's device certificate came with on its last full TLS handshake, so a session
-- resumed in any process (device workers, several app processes) validates its chain (lib/data/devices/
-- presented-chains.ts). Rows older than a session's life are deleted as new ones are written.

-- CreateTable
CREATE TABLE "PresentedChain" (
    "leafSha256" TEXT NOT NULL,
    "chain" BYTEA NOT NULL,
    "seenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "PresentedChain_pkey" PRIMARY KEY ("leafSha256")
);

-- CreateIndex
CREATE INDEX "PresentedChain_seenAt_idx" ON "PresentedChain"("seenAt");
