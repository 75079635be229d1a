-- AlterTable
ALTER TABLE "OAuthClient" ADD COLUMN     "secretRotatedAt" TIMESTAMP(3);
