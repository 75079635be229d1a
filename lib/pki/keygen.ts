// New private keys, the one way the product makes them (CA keys, the listener's key, device keys in the SDK,
// the benchmarks' and the test helpers' keys).
//
// Not the KeyObject generateKeyPairSync returns: in Node 20 that key shares its lock with the key-generation
// job, and the job's destructor takes the lock when the garbage collector frees it. A collection that starts
// while the key is locked — reading `asymmetricKeyDetails`, exporting, both of which allocate under the lock —
// then waits on itself forever: the process hangs (seen in `pss bench enroll`'s load generator, and reproduced
// with a loop of generate + asymmetricKeyDetails, which hangs after some 10^5 keys). Generating to DER and
// importing gives a key of its own.
import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";

export type NewKeyType = "p256" | "p384" | "ed25519" | "rsa2048";

function pkcs8(type: NewKeyType): Buffer {
  const publicKeyEncoding = { type: "spki", format: "der" } as const;
  const privateKeyEncoding = { type: "pkcs8", format: "der" } as const;
  switch (type) {
    case "ed25519":
      return generateKeyPairSync("ed25519", { publicKeyEncoding, privateKeyEncoding }).privateKey;
    case "rsa2048":
      return generateKeyPairSync("rsa", { modulusLength: 2048, publicKeyEncoding, privateKeyEncoding }).privateKey;
    default: {
      const namedCurve = type === "p384" ? "secp384r1" : "prime256v1";
      return generateKeyPairSync("ec", { namedCurve, publicKeyEncoding, privateKeyEncoding }).privateKey;
    }
  }
}

/** A new private key (its public half: createPublicKey(key)). */
export function newPrivateKey(type: NewKeyType = "p256"): KeyObject {
  const der = pkcs8(type);
  try {
    return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } finally {
    der.fill(0);
  }
}
