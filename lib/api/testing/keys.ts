import { newPrivateKey } from "../../pki/keygen.ts";
import { algFor, type PayloadKey } from "../sign.ts";

/** A fresh EC payload-signing key (tests, e2e). */
export function ecKey(curve: "prime256v1" | "secp384r1" = "prime256v1"): PayloadKey {
  const privateKey = newPrivateKey(curve === "secp384r1" ? "p384" : "p256");
  return { privateKey, alg: algFor(privateKey) };
}
