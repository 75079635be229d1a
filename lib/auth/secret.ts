import fs from "node:fs";
import path from "node:path";
import { writeNewSecretFile } from "../db/target.ts";
import { env } from "../env.ts";

const g = globalThis as unknown as { __pssAuthSecret?: string };

/**
 * The session-signing secret: NEXTAUTH_SECRET, or — with the embedded database only — a random one
 * kept in the data directory (mode 0600), so sessions survive restarts without configuration.
 * With DATABASE_URL every app process must share it, so it is mandatory there.
 */
export function authSecret(): string {
  g.__pssAuthSecret ??= readOrCreateSecret();
  return g.__pssAuthSecret;
}

function readOrCreateSecret(): string {
  const e = env();
  if (e.NEXTAUTH_SECRET) return e.NEXTAUTH_SECRET;
  if (!e.embedded) throw new Error("NEXTAUTH_SECRET is required when DATABASE_URL is set (all app processes must share it)");
  const file = path.join(e.dataDir, "auth-secret");
  if (!fs.existsSync(file)) {
    fs.mkdirSync(e.dataDir, { recursive: true, mode: 0o700 });
    writeNewSecretFile(file, Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url"));
  }
  const secret = fs.readFileSync(file, "utf8").trim();
  // an empty or truncated file would key sessions and bearer tokens with a value anyone can compute: fail closed
  if (secret.length < 32) throw new Error(`${file} holds no usable secret (under 32 characters): delete it to generate a new one`);
  return secret;
}
