// The client side of signed payloads (SPEC §4), for the `pss factory` tool, tests and scripts: JWS over a
// {nonce, iat, …} payload with a payload-signing key. Plain Node + jose; no server imports.
import { createPublicKey, type KeyObject, randomBytes } from "node:crypto";
import { CompactSign, calculateJwkThumbprint, FlattenedSign, GeneralSign, type JWK } from "jose";
import type { JwsAlgorithm } from "../validations/api.ts";

export type PayloadKey = { privateKey: KeyObject; alg: JwsAlgorithm };

/** The JWS alg for a private key: ES256/ES384 by curve, EdDSA for Ed25519, RS256 for RSA. */
export function algFor(key: KeyObject): JwsAlgorithm {
  if (key.asymmetricKeyType === "ed25519") return "EdDSA";
  if (key.asymmetricKeyType === "rsa") return "RS256";
  if (key.asymmetricKeyType === "ec") return key.asymmetricKeyDetails?.namedCurve === "secp384r1" ? "ES384" : "ES256";
  throw new Error(`unsupported payload-signing key type ${key.asymmetricKeyType}`);
}

export function publicJwk(key: KeyObject): JWK {
  const { kty, crv, x, y, n, e } = createPublicKey(key).export({ format: "jwk" });
  return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e }).filter(([, v]) => v !== undefined)) as JWK;
}

/** The kid the service assigns to a key: its RFC 7638 thumbprint. */
export function kidOf(key: KeyObject): Promise<string> {
  return calculateJwkThumbprint(publicJwk(key), "sha256");
}

export function newNonce(): string {
  return randomBytes(18).toString("base64url");
}

export function freshClaims(now = Date.now()): { nonce: string; iat: number } {
  return { nonce: newNonce(), iat: Math.floor(now / 1000) };
}

const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** A request payload signed by a registered key (kid header): flattened JSON (default) or compact. */
export async function signPayload(
  key: PayloadKey,
  payload: Record<string, unknown>,
  opts: { url?: string; compact?: boolean; kid?: string } = {},
): Promise<string> {
  const header = { alg: key.alg, kid: opts.kid ?? (await kidOf(key.privateKey)), ...(opts.url ? { url: opts.url } : {}) };
  if (opts.compact) return new CompactSign(enc(payload)).setProtectedHeader(header).sign(key.privateKey);
  return JSON.stringify(await new FlattenedSign(enc(payload)).setProtectedHeader(header).sign(key.privateKey));
}

/**
 * A key registration body: signed by the new key (jwk header); with `authorizer` (an active key of the same
 * user) also signed by it over the same payload, in the general JSON serialization.
 */
export async function signKeyRegistration(newKey: PayloadKey, opts: { url?: string; authorizer?: PayloadKey } = {}): Promise<string> {
  // a co-signed registration names the new key, so the existing key's signature vouches for it alone
  const payload = enc(opts.authorizer ? { ...freshClaims(), newKid: await kidOf(newKey.privateKey) } : freshClaims());
  const url = opts.url ? { url: opts.url } : {};
  const popHeader = { alg: newKey.alg, jwk: publicJwk(newKey.privateKey), ...url };
  if (!opts.authorizer) return JSON.stringify(await new FlattenedSign(payload).setProtectedHeader(popHeader).sign(newKey.privateKey));
  const jws = new GeneralSign(payload);
  jws.addSignature(newKey.privateKey).setProtectedHeader(popHeader);
  jws
    .addSignature(opts.authorizer.privateKey)
    .setProtectedHeader({ alg: opts.authorizer.alg, kid: await kidOf(opts.authorizer.privateKey), ...url });
  return JSON.stringify(await jws.sign());
}
