import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

// Client secrets are 256-bit random values, so a fast hash is as strong as a slow one here and keeps the
// token endpoint cheap. Only the hash is stored; the secret is shown once.
export function newClientCredentials(): { clientId: string; clientSecret: string; secretHash: string } {
  const clientId = `pss_${randomBytes(12).toString("hex")}`;
  const clientSecret = randomBytes(32).toString("base64url");
  return { clientId, clientSecret, secretHash: hashClientSecret(clientSecret) };
}

export function hashClientSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

export function clientSecretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashClientSecret(secret), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}
