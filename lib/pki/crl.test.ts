import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCrl, REVOCATION_REASONS, type RevokedEntry, revocationReasonSchema } from "./crl.ts";
import { isPkiError } from "./errors.ts";
import { createHierarchy, generateKeys, issueCa, openssl, pemBundle, scratchDir, type TestHierarchy } from "./testing/ca-fixture.ts";
import { x509 } from "./x509.ts";

const HOUR = 60 * 60 * 1000;
const thisUpdate = new Date("2026-01-01T00:00:00Z");
const nextUpdate = new Date(thisUpdate.getTime() + 24 * HOUR);

let h: TestHierarchy;
const tmp = scratchDir();
let caFile: string;

beforeAll(async () => {
  h = await createHierarchy("CRL Test");
  caFile = tmp.write("chain.pem", pemBundle(h.root, h.intermediate, h.issuing));
});
afterAll(() => tmp.cleanup());

/** `openssl crl -verify` against the whole chain, plus the text dump for assertions. */
function opensslCrl(crlDer: Buffer, name: string) {
  const file = tmp.write(name, crlDer);
  const verify = openssl(["crl", "-inform", "DER", "-in", file, "-CAfile", caFile, "-noout", "-verify"]);
  const text = openssl(["crl", "-inform", "DER", "-in", file, "-noout", "-text"]);
  return { verified: verify.code === 0 && /verify OK/.test(verify.out), verifyOut: verify.out, text: text.out };
}

describe("buildCrl", () => {
  it("signs a CRL that openssl verifies, with serials, reasons, CRL number and AKI", async () => {
    const revoked: RevokedEntry[] = [
      { serialHex: "4a1b2c3d4e5f60718293a4b5c6d7e8f9", revokedAt: new Date("2025-12-01T10:00:00Z"), reason: "keyCompromise" },
      { serialHex: "00FF01", revokedAt: new Date("2025-12-02T10:00:00Z"), reason: "superseded" }, // case and leading zeros ignored
      { serialHex: "0123", revokedAt: new Date("2025-12-03T10:00:00Z"), reason: "unspecified" },
      { serialHex: "77", revokedAt: new Date("2025-12-04T10:00:00Z") },
    ];
    const crl = await buildCrl({
      issuer: { certDer: h.issuing.der, signer: h.issuing.signer },
      number: 42n,
      thisUpdate,
      nextUpdate,
      revoked,
    });
    const { verified, verifyOut, text } = opensslCrl(crl, "four.crl");
    expect(verified, verifyOut).toBe(true);

    expect(text).toMatch(/Version 2 \(0x1\)/);
    expect(text).toMatch(/Issuer: CN = CRL Test Customer TLS Issuing CA G1, O = PSS/);
    expect(text).toMatch(/X509v3 CRL Number:\s+42/);
    const ski = h.issuing.cert.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId.toUpperCase();
    expect(text.replace(/:/g, "")).toContain(ski);
    expect(text).toMatch(/Serial Number: 4A1B2C3D4E5F60718293A4B5C6D7E8F9[\s\S]*?CRL Reason Code:\s+Key Compromise/);
    expect(text).toMatch(/Serial Number: FF01\s[\s\S]*?CRL Reason Code:\s+Superseded/);
    expect(text).toMatch(/Last Update: Jan {2}1 00:00:00 2026 GMT/);
    expect(text).toMatch(/Next Update: Jan {2}2 00:00:00 2026 GMT/);
    // unspecified and absent reasons are written without a reasonCode extension
    expect(text.match(/CRL Reason Code/g)).toHaveLength(2);
    expect(text).toMatch(/Serial Number: 0123\s+Revocation Date: Dec {2}3 10:00:00 2025 GMT\s+Serial Number: 77/);
  });

  it("builds an empty CRL (no revokedCertificates field) that openssl verifies", async () => {
    const crl = await buildCrl({
      issuer: { certDer: h.issuing.der, signer: h.issuing.signer },
      number: 1n,
      thisUpdate,
      nextUpdate,
      revoked: [],
    });
    const { verified, verifyOut, text } = opensslCrl(crl, "empty.crl");
    expect(verified, verifyOut).toBe(true);
    expect(text).toMatch(/No Revoked Certificates/);
  });

  it("is read the same way by @peculiar/x509 (a third implementation)", async () => {
    const crl = await buildCrl({
      issuer: { certDer: h.intermediate.der, signer: h.intermediate.signer },
      number: 2n ** 70n,
      thisUpdate,
      nextUpdate,
      revoked: [{ serialHex: "abcdef", revokedAt: thisUpdate, reason: "cACompromise" }],
    });
    const parsed = new x509.X509Crl(new Uint8Array(crl));
    expect(await parsed.verify({ publicKey: h.intermediate.cert.publicKey })).toBe(true);
    expect(Buffer.from(parsed.issuerName.toArrayBuffer()).equals(Buffer.from(h.intermediate.cert.subjectName.toArrayBuffer()))).toBe(true);
    expect(parsed.entries).toHaveLength(1);
    expect(parsed.entries[0].serialNumber).toBe("abcdef");
    expect(parsed.entries[0].reason).toBe(REVOCATION_REASONS.cACompromise);
    expect(opensslCrl(crl, "big-number.crl").text).toMatch(/CRL Number:\s+1180591620717411303424\s/);
  });

  it("signs with a P-384 root as ecdsa-with-SHA384", async () => {
    const root384 = await issueCa("CN=CRL Test P384 Root,O=PSS", undefined, { keys: await generateKeys("P-384") });
    const crl = await buildCrl({
      issuer: { certDer: root384.der, signer: root384.signer },
      number: 7n,
      thisUpdate,
      nextUpdate,
      revoked: [],
    });
    const file = tmp.write("p384.crl", crl);
    const rootFile = tmp.write("p384.pem", root384.pem);
    const out = openssl(["crl", "-inform", "DER", "-in", file, "-CAfile", rootFile, "-noout", "-verify", "-text"]).out;
    expect(out).toMatch(/verify OK/);
    expect(out).toMatch(/ecdsa-with-SHA384/);
  });

  it("encodes and openssl verifies a CRL of 100k entries", async () => {
    const revoked: RevokedEntry[] = Array.from({ length: 100_000 }, (_, i) => ({
      serialHex: (0x40_00_00_00_00_00_00_00n + BigInt(i) * 7919n).toString(16),
      revokedAt: new Date(thisUpdate.getTime() - i * 1000),
      reason: i % 3 === 0 ? "superseded" : undefined,
    }));
    const crl = await buildCrl({
      issuer: { certDer: h.issuing.der, signer: h.issuing.signer },
      number: 3n,
      thisUpdate,
      nextUpdate,
      revoked,
    });
    const { verified, verifyOut, text } = opensslCrl(crl, "big.crl");
    expect(verified, verifyOut).toBe(true);
    expect(text.match(/Serial Number:/g)).toHaveLength(100_000);
  });

  it.each([
    ["signer that is not the CA's key", { signerFrom: "root" }, "signer_mismatch"],
    ["nextUpdate not after thisUpdate", { nextUpdate: thisUpdate }, "crl_invalid"],
    ["serial that is not hex", { serialHex: "xyz" }, "serial_invalid"],
  ] as const)("refuses a %s", async (_name, variant, code) => {
    const signer = "signerFrom" in variant ? h.root.signer : h.issuing.signer;
    const err = await buildCrl({
      issuer: { certDer: h.issuing.der, signer },
      number: 1n,
      thisUpdate,
      nextUpdate: "nextUpdate" in variant ? variant.nextUpdate : nextUpdate,
      revoked: "serialHex" in variant ? [{ serialHex: variant.serialHex, revokedAt: thisUpdate }] : [],
    }).catch((e) => e);
    expect(isPkiError(err) && err.code).toBe(code);
  });

  it("exposes the reason names as a zod enum", () => {
    expect(revocationReasonSchema.parse("keyCompromise")).toBe("keyCompromise");
    expect(revocationReasonSchema.safeParse("unused7").success).toBe(false);
    // delta-CRL and attribute-certificate codes are never a revocation's reason here
    expect(revocationReasonSchema.safeParse("removeFromCRL").success).toBe(false);
    expect(revocationReasonSchema.safeParse("aACompromise").success).toBe(false);
    // nor a hold: revocation is final, and a hold would promise a release
    expect(revocationReasonSchema.safeParse("certificateHold").success).toBe(false);
    expect(Object.keys(REVOCATION_REASONS)).toHaveLength(10);
  });
});
