// One-time device secrets (SPEC §5, the CSR challengePassword). Unlike API client secrets (256 random bits,
// lib/data/clients/secrets.ts) a device secret may be chosen by a person, so a leaked table must not give it
// away to a dictionary: scrypt with a random salt per secret, stored in the one text column as
//
//   scrypt$<N>$<r>$<p>$<salt, base64url>$<hash, base64url>
//
// N = 2^14, r = 8, p = 1 costs ~50 ms and 16 MiB on the 2-core machines; hashing runs on libuv's thread pool,
// so it never blocks the event loop. Rows written before this format (unsalted SHA-256, 64 hex digits) are
// still accepted.
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";
import { clientSecretMatches } from "../clients/secrets.ts";

const COST = { N: 1 << 14, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;
const LEGACY_SHA256 = /^[0-9a-f]{64}$/;

function derive(secret: string, salt: Buffer, cost: { N: number; r: number; p: number }): Promise<Buffer> {
  // scrypt needs 128·N·r·p bytes; Node refuses more than maxmem (32 MiB by default)
  const options: ScryptOptions = { ...cost, maxmem: 128 * cost.N * cost.r * cost.p + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scrypt(secret.normalize("NFC"), salt, HASH_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** The stored form of a new device secret. */
export async function hashDeviceSecret(secret: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(secret, salt, COST);
  return ["scrypt", COST.N, COST.r, COST.p, salt.toString("base64url"), hash.toString("base64url")].join("$");
}

/** Parameters of a stored scrypt hash, within sane bounds (a corrupted row must not allocate gigabytes). */
function parseStored(stored: string): { cost: { N: number; r: number; p: number }; salt: Buffer; hash: Buffer } | null {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return null;
  const [N, r, p] = parts.slice(1, 4).map((v) => (/^\d{1,8}$/.test(v) ? Number(v) : Number.NaN));
  const powerOfTwo = Number.isInteger(Math.log2(N));
  if (!powerOfTwo || N < 2 || N > 1 << 20 || !(r >= 1 && r <= 32) || !(p >= 1 && p <= 16)) return null;
  const salt = Buffer.from(parts[4], "base64url");
  const hash = Buffer.from(parts[5], "base64url");
  if (salt.length < 8 || hash.length !== HASH_BYTES) return null;
  return { cost: { N, r, p }, salt, hash };
}

/** Does `secret` match the stored hash (either format)? Constant time in the secret; never throws. */
export async function deviceSecretMatches(secret: string, stored: string): Promise<boolean> {
  if (LEGACY_SHA256.test(stored)) return clientSecretMatches(secret, stored);
  const parsed = parseStored(stored);
  if (!parsed) return false;
  const hash = await derive(secret, parsed.salt, parsed.cost).catch(() => null);
  return hash !== null && timingSafeEqual(hash, parsed.hash);
}
