// New private keys, the one way the product makes them (CA keys, the listener's key, device keys in the SDK,
// the benchmarks' and the test helpers' keys).
//
// Not the KeyObject generateKeyPairSync returns: in Node 20 that key shares its lock with the key-generation
// job, and the job's destructor takes the lock when the garbage collector frees it. A collection that starts
// while the key is locked — reading `asymmetricKeyDetails`, exporting, both of which allocate under the lock —
// then waits on itself forever: the process hangs (seen in `pss bench enroll`'s load generator, and reproduced
// with a loop of generate + asymmetricKeyDetails, which hangs after some 10^5 keys). Generating to an encoding
// and importing gives a key of its own.
//
// The encoding is JWK, not PKCS#8 DER: OpenSSL 3.0 imports DER through its decoder framework, whose name and
// lock look-ups make a P-256 key cost 0.9 ms against 0.19 ms through JWK (the load generator of `pss bench
// enroll` makes tens of thousands). The JWK's strings cannot be wiped as a Buffer could; they stay in this
// process's heap until collected, next to the KeyObject that holds the same key anyway.
import { createPrivateKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from "node:crypto";

export type NewKeyType = "p256" | "p384" | "ed25519" | "rsa2048";

// Node supports format "jwk" for generated keys; @types/node has no overload for it.
const generateJwk = generateKeyPairSync as unknown as (type: string, options: object) => { privateKey: JsonWebKey };

const OPTIONS: Record<NewKeyType, [string, object]> = {
  p256: ["ec", { namedCurve: "prime256v1" }],
  p384: ["ec", { namedCurve: "secp384r1" }],
  ed25519: ["ed25519", {}],
  rsa2048: ["rsa", { modulusLength: 2048 }],
};

/** A new private key (its public half: createPublicKey(key)). */
export function newPrivateKey(type: NewKeyType = "p256"): KeyObject {
  const [kind, options] = OPTIONS[type];
  const { privateKey } = generateJwk(kind, { ...options, publicKeyEncoding: { format: "jwk" }, privateKeyEncoding: { format: "jwk" } });
  return createPrivateKey({ key: privateKey, format: "jwk" });
}
