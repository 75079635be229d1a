// The signer interface every CA key sits behind: software keys now, PKCS#11 or a cloud KMS later are
// further implementations of the same small interface.
import { createPublicKey, type KeyObject, sign as nodeSign } from "node:crypto";

export type KeyAlgorithm = "ECDSA-P256" | "ECDSA-P384";

export interface Signer {
  readonly algorithm: KeyAlgorithm;
  /** DER SubjectPublicKeyInfo of the key pair */
  readonly spki: Buffer;
  /** Signature over `data` as X.509 needs it: DER ECDSA-Sig-Value, SHA-256 (P-256) or SHA-384 (P-384). */
  sign(data: Uint8Array): Promise<Buffer>;
}

/** DER AlgorithmIdentifier of the signature each key algorithm makes (ecdsa-with-SHA256 / -SHA384, no parameters). */
export const SIGNATURE_ALGORITHM_DER: Record<KeyAlgorithm, Buffer> = {
  "ECDSA-P256": Buffer.from("300a06082a8648ce3d040302", "hex"),
  "ECDSA-P384": Buffer.from("300a06082a8648ce3d040303", "hex"),
};

export const HASH_OF: Record<KeyAlgorithm, "sha256" | "sha384"> = { "ECDSA-P256": "sha256", "ECDSA-P384": "sha384" };

/** A signer over a private KeyObject held in this process's memory (the software key store, tests). */
export function keyObjectSigner(privateKey: KeyObject): Signer {
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  const algorithm: KeyAlgorithm | undefined = curve === "prime256v1" ? "ECDSA-P256" : curve === "secp384r1" ? "ECDSA-P384" : undefined;
  if (!algorithm) throw new Error(`unsupported CA key type: ${privateKey.asymmetricKeyType} ${curve ?? ""}`);
  const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  const hash = HASH_OF[algorithm];
  return {
    algorithm,
    spki,
    async sign(data) {
      return nodeSign(hash, data, privateKey);
    },
  };
}
