// The browser key helpers run here on Node's WebCrypto; a second implementation checks their output.
import { execFileSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { compactVerify, importJWK } from "jose";
import { describe, expect, it } from "vitest";
import { parseCsr } from "../pki/csr.ts";
import { buildCsrPem, ecdsaRawToDer, generateP256, privateKeyPem, proofOfPossession, unsignedInteger } from "./webcrypto.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("DER integers", () => {
  it.each([
    ["00", "020100"],
    ["0000ff", "020200ff"],
    ["7f", "02017f"],
    ["80", "02020080"],
    ["00017f", "0202017f"],
  ])("%s → %s", (input, out) => {
    expect(hex(unsignedInteger(Buffer.from(input, "hex")))).toBe(out);
  });

  it("raw R‖S becomes a SEQUENCE of two INTEGERs", () => {
    const raw = new Uint8Array(64);
    raw[0] = 0x80;
    raw[63] = 1;
    const der = ecdsaRawToDer(raw);
    expect(hex(der.slice(0, 4))).toBe("30260221");
    expect(hex(der.slice(-3))).toBe("020101");
  });
});

describe("browser keys", () => {
  it("builds a CSR that openssl and our parser verify, and a PKCS#8 key Node reads", async () => {
    const key = await generateP256();
    const csr = await buildCsrPem(key, "browser-generated");
    const parsed = parseCsr(csr);
    expect(parsed).toBeTruthy();
    const out = execFileSync("openssl", ["req", "-verify", "-noout", "-text"], { input: csr, encoding: "utf8", stdio: "pipe" });
    expect(out).toMatch(/CN ?= ?browser-generated/);
    const pk = createPrivateKey(await privateKeyPem(key.keyPair.privateKey));
    expect(pk.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
  });

  it("builds a proof-of-possession JWS jose verifies with the embedded jwk", async () => {
    const key = await generateP256();
    const jws = await proofOfPossession(key);
    const { payload, protectedHeader } = await compactVerify(jws, await importJWK(key.publicJwk, "ES256"));
    expect(protectedHeader.alg).toBe("ES256");
    expect(protectedHeader.jwk).toEqual(key.publicJwk);
    const body = JSON.parse(new TextDecoder().decode(payload));
    expect(Object.keys(body).sort()).toEqual(["iat", "nonce"]);
  });
});
