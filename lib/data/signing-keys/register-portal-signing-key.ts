// The portal's registration of a payload-signing key: the same use case as the API (registerSigningKey), with
// the signed-in admin's fresh re-authentication standing in for an existing key's co-signature (SPEC §4).
// A pasted public key (JWK or SPKI PEM) must be the very key the proof-of-possession JWS carries.
import "server-only";
import { createPublicKey } from "node:crypto";
import type { JWK } from "jose";
import { AppError } from "../../errors.ts";
import type { ApiCaller } from "../api/access-token.ts";
import { parseJwsBody, readProtectedHeader, thumbprint } from "../api/signed-payload.ts";
import { publicJwkFor, type RegisteredKey, registerSigningKey } from "./register-signing-key.ts";

export type RegisterPortalSigningKeyInput = {
  /** a customer admin who has just re-authenticated (the caller checks the password) */
  caller: ApiCaller;
  jws: string;
  /** paste mode: the public key the user says they are registering */
  jwk?: string;
  url: string;
};

function parsePublicKey(text: string): Record<string, unknown> {
  const t = text.trim();
  if (t === "") throw new AppError("jwk_missing", "Paste the public key (JWK or PEM).", 400);
  try {
    if (t.startsWith("-----BEGIN")) return createPublicKey(t).export({ format: "jwk" }) as Record<string, unknown>;
    const v: unknown = JSON.parse(t);
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through to the one message below
  }
  throw new AppError("jwk_invalid", "The public key is neither a JWK (JSON object) nor a PEM public key.", 400);
}

export async function registerPortalSigningKey(input: RegisterPortalSigningKeyInput): Promise<RegisteredKey> {
  if (input.jwk !== undefined) {
    const pasted = parsePublicKey(input.jwk);
    const [first] = parseJwsBody(input.jws);
    const header = readProtectedHeader(first);
    if (!header.jwk) throw new AppError("jwk_missing", "The JWS must carry the public key in its protected header (jwk).", 400);
    const [a, b] = await Promise.all([
      thumbprint(publicJwkFor(header.alg, pasted) as JWK),
      thumbprint(publicJwkFor(header.alg, header.jwk as Record<string, unknown>)),
    ]);
    if (a !== b) throw new AppError("jwk_mismatch", "The pasted public key is not the key that signed the proof of possession.", 400);
  }
  return registerSigningKey({ caller: input.caller, body: input.jws, url: input.url, reauthenticated: true });
}
