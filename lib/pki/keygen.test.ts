import { createPublicKey, sign, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type NewKeyType, newPrivateKey } from "./keygen.ts";

describe("newPrivateKey", () => {
  it.each<[NewKeyType, string, string | undefined]>([
    ["p256", "ec", "prime256v1"],
    ["p384", "ec", "secp384r1"],
    ["ed25519", "ed25519", undefined],
    ["rsa2048", "rsa", undefined],
  ])("%s: a private key of that type that signs", (type, keyType, curve) => {
    const key = newPrivateKey(type);
    expect(key.type).toBe("private");
    expect(key.asymmetricKeyType).toBe(keyType);
    expect(key.asymmetricKeyDetails?.namedCurve).toBe(curve);
    const hash = keyType === "ed25519" ? null : "sha256";
    const data = Buffer.from("payload");
    expect(verify(hash, data, createPublicKey(key), sign(hash, data, key))).toBe(true);
  });

  it("defaults to P-256 and never repeats a key", () => {
    const spki = (k: ReturnType<typeof newPrivateKey>) => createPublicKey(k).export({ type: "spki", format: "der" }).toString("hex");
    const a = newPrivateKey();
    expect(a.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    expect(spki(a)).not.toBe(spki(newPrivateKey()));
  });
});
