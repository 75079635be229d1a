-- CA keys on a PKCS#11 token (SPEC §2): the row records where the key lives instead of its sealed bytes.
ALTER TABLE "KeyMaterial" ADD COLUMN     "spki" BYTEA,
ADD COLUMN     "store" TEXT NOT NULL DEFAULT 'software',
ADD COLUMN     "token" TEXT,
ALTER COLUMN "iv" DROP NOT NULL,
ALTER COLUMN "ciphertext" DROP NOT NULL,
ALTER COLUMN "tag" DROP NOT NULL;

-- each kind of row carries exactly what its store needs
ALTER TABLE "KeyMaterial" ADD CONSTRAINT "KeyMaterial_store_shape" CHECK (
  (store = 'software' AND iv IS NOT NULL AND ciphertext IS NOT NULL AND tag IS NOT NULL AND spki IS NULL AND token IS NULL)
  OR (store = 'pkcs11' AND spki IS NOT NULL AND token IS NOT NULL AND iv IS NULL AND ciphertext IS NULL AND tag IS NULL)
);
