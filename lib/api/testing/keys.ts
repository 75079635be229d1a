import { generateKeyPairSync } from "node:crypto";
import { algFor, type PayloadKey } from "../sign.ts";

/** A fresh EC payload-signing key (tests, e2e). */
export function ecKey(curve: "prime256v1" | "secp384r1" = "prime256v1"): PayloadKey {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: curve });
  return { privateKey, alg: algFor(privateKey) };
}
