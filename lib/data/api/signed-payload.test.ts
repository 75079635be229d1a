// RSA payload-signing keys (SPEC §4, §7): 2048–4096 bits counted on the modulus's magnitude, and `n` in its
// minimal octets (RFC 7518 §6.3.1.1), whether the JWK comes with a registration or from a registered key.
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import type { JWK } from "jose";
import { describe, expect, it } from "vitest";
import { AppError } from "../../errors.ts";
import { type FlattenedJws, verifySignature } from "./signed-payload.ts";

const keys = new Map<number, KeyObject>();
function rsa(bits: number): KeyObject {
  let k = keys.get(bits);
  if (!k) {
    k = generateKeyPairSync("rsa", { modulusLength: bits }).privateKey;
    keys.set(bits, k);
  }
  return k;
}

function signed(key: KeyObject): FlattenedJws {
  const protectedHeader = Buffer.from(JSON.stringify({ alg: "RS256" })).toString("base64url");
  const payload = Buffer.from(JSON.stringify({ nonce: "n-0123456789abcdef", iat: 1 })).toString("base64url");
  const signature = sign("sha256", Buffer.from(`${protectedHeader}.${payload}`), key).toString("base64url");
  return { protected: protectedHeader, payload, signature };
}

/** The key's public JWK, its `n` preceded by `zeros` zero octets. */
function jwkOf(key: KeyObject, zeros = 0): JWK {
  const jwk = key.export({ format: "jwk" }) as { n: string; e: string };
  const n = Buffer.concat([Buffer.alloc(zeros), Buffer.from(jwk.n, "base64url")]).toString("base64url");
  return { kty: "RSA", n, e: jwk.e };
}

async function outcome(bits: number, zeros: number): Promise<string> {
  const key = rsa(bits);
  try {
    await verifySignature(signed(key), "RS256", jwkOf(key, zeros));
    return "verified";
  } catch (e) {
    if (e instanceof AppError) return e.code;
    throw e;
  }
}

describe("RSA JWK size and encoding", () => {
  it.each<[string, number, number, string]>([
    ["2048 bits", 2048, 0, "verified"],
    ["4096 bits", 4096, 0, "verified"],
    ["2044 bits", 2044, 0, "key_weak"],
    ["4104 bits", 4104, 0, "key_weak"],
    // a zero-padded n: the size was counted on the octets, and the same key had a second thumbprint (kid)
    ["2048 bits behind a zero octet", 2048, 1, "jwk_invalid"],
    ["2044 bits behind a zero octet (counted as 2048 before)", 2044, 1, "jwk_invalid"],
    ["2040 bits behind two zero octets (counted as 2048 before)", 2040, 2, "jwk_invalid"],
  ])("%s", async (_name, bits, zeros, expected) => {
    expect(await outcome(bits, zeros)).toBe(expected);
  });
});
