import { createHash, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { keyFingerprint, parseCsr, requireDeviceId, rsaModulusBits } from "./csr.ts";
import { boolean, explicit, nullValue, octetString, oid, printableString, sequence, set, smallInteger, tlv } from "./der.ts";
import { isPkiError } from "./errors.ts";
import { buildCsr, cn, fixture, generateKey, org, SIG_ALG, serialNumber, spkiOf } from "./fixtures/helpers.ts";

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isPkiError(e)) return e.code;
    throw e;
  }
  return "accepted";
}

describe("parseCsr accepts the supported key types and encodings", () => {
  it.each([
    ["good-p256.pem", { type: "ec", curve: "P-256" }, "dev-p256"],
    ["good-p256.der", { type: "ec", curve: "P-256" }, "dev-p256"],
    ["good-p256.b64", { type: "ec", curve: "P-256" }, "dev-p256"],
    ["good-p256-crlf.pem", { type: "ec", curve: "P-256" }, "dev-p256"],
    ["good-p256-sha384.pem", { type: "ec", curve: "P-256" }, "dev-p256-sha384"],
    ["good-p384.pem", { type: "ec", curve: "P-384" }, "dev-p384"],
    ["good-ed25519.pem", { type: "ed25519" }, "dev-ed25519"],
    ["good-rsa2048.pem", { type: "rsa", bits: 2048 }, "dev-rsa2048"],
    ["good-rsa4096.pem", { type: "rsa", bits: 4096 }, "dev-rsa4096"],
    ["good-rsa2048-pss.pem", { type: "rsa", bits: 2048 }, "dev-rsa-pss"],
    ["good-serialnumber.pem", { type: "ec" }, "cam:0042.a-b"],
    ["good-empty-subject.pem", { type: "ec" }, undefined],
  ])("%s", (name, key, deviceId) => {
    const raw = fixture(name);
    const csr = parseCsr(name.endsWith(".der") ? raw : raw.toString("latin1"));
    expect(csr.publicKey).toMatchObject(key);
    expect(csr.deviceId).toBe(deviceId);
    expect(csr.spkiSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(csr.der[0]).toBe(0x30);
  });

  it("accepts a PEM passed as bytes and a DER passed as a Uint8Array view", () => {
    expect(parseCsr(fixture("good-p256.pem")).deviceId).toBe("dev-p256");
    const der = fixture("good-p256.der");
    const padded = new Uint8Array(der.length + 8);
    padded.set(der, 4);
    expect(parseCsr(padded.subarray(4, 4 + der.length)).deviceId).toBe("dev-p256");
  });

  it("reads subject attributes, UTF-8 and the challengePassword", () => {
    const csr = parseCsr(fixture("good-utf8-subject.pem").toString());
    expect(csr.subject).toEqual([
      { oid: "2.5.4.10", name: "O", value: "Zürich Ünïcødé AG" },
      { oid: "2.5.4.3", name: "CN", value: "dev-utf8" },
    ]);
    expect(csr.subjectText).toBe("O=Zürich Ünïcødé AG, CN=dev-utf8");
    expect(parseCsr(fixture("good-challenge.pem").toString()).challengePassword).toBe("s3cret-Challenge");
  });

  it("reads requested extensions and SANs", () => {
    const csr = parseCsr(fixture("good-san-device-uri.pem").toString());
    expect(csr.sans).toEqual([{ type: "uri", value: "urn:pss:device:dev-san" }]);
    expect(csr.extensions.map((e) => [e.oid, e.critical])).toEqual([["2.5.29.17", false]]);
    expect(parseCsr(fixture("good-san-ip.pem").toString()).sans).toEqual([{ type: "ip", value: "10.0.0.1" }]);
    expect(parseCsr(fixture("good-ca-true-noncritical.pem").toString()).basicConstraints).toEqual({ ca: true, pathLen: 0 });
    expect(parseCsr(fixture("good-ca-false.pem").toString()).basicConstraints).toEqual({ ca: false, pathLen: undefined });
    const crit = parseCsr(fixture("good-unknown-critical.pem").toString());
    expect(crit.extensions).toContainEqual({ oid: "1.2.3.4.5", critical: true, value: nullValue() });
  });

  it("re-encodes a compressed EC point or a non-canonical RSA key: one key has one fingerprint", () => {
    const ec = generateKey("p256");
    const spki = spkiOf(ec);
    const point = spki.subarray(spki.length - 65); // 04 || X || Y
    const compressed = sequence(spki.subarray(2, 23), tlv(0x03, Buffer.from([0, 2 + (point[64] & 1)]), point.subarray(1, 33)));
    const plain = parseCsr(buildCsr({ key: ec, subject: [cn("dev-c")] }));
    const viaCompressed = parseCsr(buildCsr({ key: ec, spki: compressed, subject: [cn("dev-c")] }));
    expect(viaCompressed.spkiSha256).toBe(plain.spkiSha256);
    expect(viaCompressed.publicKey.spki).toEqual(spki);
    // a certificate's key, compared with a request's (a manufacturer certificate at enrollment): same rule
    expect(keyFingerprint(compressed)).toBe(plain.spkiSha256);
    expect(keyFingerprint(spki)).toBe(plain.spkiSha256);

    // RSA with its AlgorithmIdentifier parameters left out (NULL is the canonical form)
    const rsa = generateKey("rsa2048");
    const rsaSpki = spkiOf(rsa);
    const [, algLen] = [rsaSpki[4], rsaSpki[5]]; // 30 82 xx xx | 30 0d <oid> 05 00 | 03 82 ...
    const alg = rsaSpki.subarray(4, 6 + algLen);
    const noParams = sequence(sequence(alg.subarray(2, alg.length - 2)), rsaSpki.subarray(6 + algLen));
    const rsaPlain = parseCsr(buildCsr({ key: rsa, subject: [cn("dev-r")] }));
    const rsaNoParams = parseCsr(buildCsr({ key: rsa, spki: noParams, subject: [cn("dev-r")] }));
    expect(rsaNoParams.spkiSha256).toBe(rsaPlain.spkiSha256);
    expect(rsaNoParams.publicKey.spki).toEqual(rsaSpki);
  });

  it("keyFingerprint of a key no request may carry is the hash of its encoding", () => {
    const p521 = spkiOf(generateKeyPairSync("ec", { namedCurve: "P-521" }).privateKey);
    expect(keyFingerprint(p521)).toBe(createHash("sha256").update(p521).digest("hex"));
    expect(keyFingerprint(Buffer.from("not a key"))).toBe(createHash("sha256").update("not a key").digest("hex"));
  });

  it("computes spkiSha256 over the SPKI DER", async () => {
    const { createHash } = await import("node:crypto");
    const csr = parseCsr(fixture("good-p256.der"));
    expect(csr.spkiSha256).toBe(createHash("sha256").update(csr.publicKey.spki).digest("hex"));
  });
});

describe("parseCsr refuses hostile input (checked-in openssl vectors)", () => {
  it.each([
    ["bad-rsa1024.pem", "csr_weak_key"],
    ["bad-rsa-e3.pem", "csr_weak_key"],
    ["bad-rsa4098.pem", "csr_weak_key"],
    ["bad-secp256k1.pem", "csr_unsupported_key"],
    ["bad-p521.pem", "csr_unsupported_key"],
    ["bad-brainpool.pem", "csr_unsupported_key"],
    ["bad-ed448.pem", "csr_unsupported_key"],
    ["bad-dsa.pem", "csr_unsupported_key"],
    ["bad-ec-explicit-params.pem", "csr_unsupported_key"],
    ["bad-rsa-sha1.pem", "csr_signature_algorithm_unsupported"],
    ["bad-ecdsa-sha1.pem", "csr_signature_algorithm_unsupported"],
    ["bad-signature.der", "csr_invalid_signature"],
    ["bad-tampered-subject.der", "csr_invalid_signature"],
    ["bad-truncated.der", "csr_malformed"],
    ["bad-trailing-byte.der", "csr_malformed"],
    ["bad-garbage.b64", "csr_malformed"],
    ["bad-wrong-label.pem", "csr_malformed"],
    ["bad-certificate.pem", "csr_malformed"],
    ["bad-two-blocks.pem", "csr_malformed"],
  ])("%s → %s", (name, code) => {
    const raw = fixture(name);
    expect(codeOf(() => parseCsr(name.endsWith(".der") ? raw : raw.toString("latin1")))).toBe(code);
  });
});

describe("parseCsr refuses hostile input (built in the test)", () => {
  const p256 = generateKey("p256");
  const ed = generateKey("ed25519");
  const rsa = generateKey("rsa2048");
  const ok = buildCsr({ key: p256 });
  const pem = (der: Buffer) => `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
  const ext = (o: string, value: Buffer, critical = false) => ({ oid: o, value, critical });

  it("builder output is accepted (control)", () => {
    expect(parseCsr(ok).deviceId).toBe("dev-001");
    expect(parseCsr(buildCsr({ key: ed })).publicKey.type).toBe("ed25519");
  });

  it.each<[string, () => unknown, string]>([
    ["empty string", () => parseCsr(""), "csr_malformed"],
    ["whitespace only", () => parseCsr(" \n\t "), "csr_malformed"],
    ["empty bytes", () => parseCsr(new Uint8Array(0)), "csr_malformed"],
    ["over 64 KiB string", () => parseCsr("A".repeat(65 * 1024)), "csr_too_large"],
    ["over 64 KiB DER", () => parseCsr(Buffer.concat([Buffer.from([0x30]), Buffer.alloc(70 * 1024)])), "csr_too_large"],
    ["huge string", () => parseCsr("A".repeat(10 * 1024 * 1024)), "csr_too_large"],
    ["base64url alphabet", () => parseCsr(ok.toString("base64url")), "csr_malformed"],
    ["base64 missing padding", () => parseCsr(ok.toString("base64").replace(/=+$/, "").slice(0, -1)), "csr_malformed"],
    ["PEM with mismatched END label", () => parseCsr(pem(ok).replace("END CERTIFICATE REQUEST", "END X509 CRL")), "csr_malformed"],
    ["PEM with text after END", () => parseCsr(`${pem(ok)}trailing`), "csr_malformed"],
    ["not a SEQUENCE", () => parseCsr(Buffer.from("0400", "hex")), "csr_malformed"],
    [
      "indefinite length BER",
      () => parseCsr(Buffer.concat([Buffer.from([0x30, 0x80]), ok.subarray(2), Buffer.from([0, 0])])),
      "csr_malformed",
    ],
    ["version 2", () => parseCsr(buildCsr({ key: p256, version: 1 })), "csr_malformed"],
    [
      "non-string subject value",
      () => parseCsr(buildCsr({ key: p256, subject: sequence(set(sequence(oid("2.5.4.3"), nullValue()))) })),
      "csr_malformed",
    ],
    [
      "invalid UTF-8 in subject",
      () => parseCsr(buildCsr({ key: p256, subject: sequence(set(sequence(oid("2.5.4.3"), tlv(0x0c, Buffer.from([0xc3, 0x28]))))) })),
      "csr_malformed",
    ],
    ["empty RDN", () => parseCsr(buildCsr({ key: p256, subject: sequence(set()) })), "csr_malformed"],
    [
      "duplicate extension",
      () => parseCsr(buildCsr({ key: p256, extensions: [ext("2.5.29.17", sequence()), ext("2.5.29.17", sequence())] })),
      "csr_malformed",
    ],
    [
      "critical flag not DER",
      () =>
        parseCsr(
          buildCsr({
            key: p256,
            attributes: [
              sequence(
                oid("1.2.840.113549.1.9.14"),
                set(sequence(sequence(oid("1.2.3"), Buffer.from("010101", "hex"), octetString(nullValue())))),
              ),
            ],
          }),
        ),
      "csr_malformed",
    ],
    [
      "two extensionRequest attributes",
      () =>
        parseCsr(
          buildCsr({
            key: p256,
            extensions: [ext("1.2.3", nullValue())],
            attributes: [sequence(oid("1.2.840.113549.1.9.14"), set(sequence()))],
          }),
        ),
      "csr_malformed",
    ],
    ["SAN that is not a SEQUENCE", () => parseCsr(buildCsr({ key: p256, extensions: [ext("2.5.29.17", nullValue())] })), "csr_malformed"],
    [
      "ECDSA algorithm with an Ed25519 key",
      () => parseCsr(buildCsr({ key: ed, signatureAlgorithm: SIG_ALG.ecdsaSha256 })),
      "csr_signature_algorithm_unsupported",
    ],
    [
      "Ed25519 algorithm with an EC key",
      () => parseCsr(buildCsr({ key: p256, signatureAlgorithm: SIG_ALG.ed25519 })),
      "csr_signature_algorithm_unsupported",
    ],
    [
      "ECDSA algorithm with NULL parameters",
      () => parseCsr(buildCsr({ key: p256, signatureAlgorithm: sequence(oid("1.2.840.10045.4.3.2"), nullValue()) })),
      "csr_malformed",
    ],
    [
      "md5WithRSA",
      () => parseCsr(buildCsr({ key: p256, signatureAlgorithm: sequence(oid("1.2.840.113549.1.1.4"), nullValue()) })),
      "csr_signature_algorithm_unsupported",
    ],
    [
      "RSA-PSS with default (SHA-1) parameters",
      () => parseCsr(buildCsr({ key: p256, signatureAlgorithm: sequence(oid("1.2.840.113549.1.1.10"), sequence()) })),
      "csr_signature_algorithm_unsupported",
    ],
    [
      "RSA-PSS with an impossible salt length",
      () => {
        const sha256 = sequence(oid("2.16.840.1.101.3.4.2.1"));
        const params = sequence(
          explicit(0, sha256),
          explicit(1, sequence(oid("1.2.840.113549.1.1.8"), sha256)),
          explicit(2, smallInteger(4000)),
        );
        return parseCsr(buildCsr({ key: rsa, signatureAlgorithm: sequence(oid("1.2.840.113549.1.1.10"), params) }));
      },
      "csr_invalid_signature",
    ],
    ["signature of zeros", () => parseCsr(buildCsr({ key: p256, signature: (s) => Buffer.alloc(s.length) })), "csr_invalid_signature"],
    ["empty signature", () => parseCsr(buildCsr({ key: ed, signature: () => Buffer.alloc(0) })), "csr_invalid_signature"],
    ["signature by another key", () => parseCsr(buildCsr({ key: p256, spki: spkiOf(generateKey("p256")) })), "csr_invalid_signature"],
    [
      "EC point not on the curve",
      () => {
        const spki = Buffer.from(spkiOf(p256));
        spki[spki.length - 1] ^= 1;
        return parseCsr(buildCsr({ key: p256, spki }));
      },
      "csr_invalid_key",
    ],
    [
      "X25519 key",
      () => parseCsr(buildCsr({ key: p256, spki: generateKeyPairSync("x25519").publicKey.export({ type: "spki", format: "der" }) })),
      "csr_unsupported_key",
    ],
    [
      "unknown key algorithm",
      () => parseCsr(buildCsr({ key: p256, spki: sequence(sequence(oid("1.2.3.4")), Buffer.from("03020000", "hex")) })),
      "csr_unsupported_key",
    ],
    [
      "EC key without parameters",
      () => {
        const spki = sequence(sequence(oid("1.2.840.10045.2.1")), Buffer.from("03020000", "hex"));
        return parseCsr(buildCsr({ key: p256, spki }));
      },
      "csr_unsupported_key",
    ],
    [
      "RSA key with 65537 but 1024 bits inside a valid SPKI",
      () =>
        parseCsr(
          buildCsr({
            key: p256,
            spki: generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "der" }),
          }),
        ),
      "csr_weak_key",
    ],
    ["challengePassword twice", () => parseCsr(buildCsr({ key: p256, attributes: [challenge("a"), challenge("b")] })), "csr_malformed"],
  ])("%s", (_name, fn, code) => {
    expect(codeOf(fn)).toBe(code);
  });

  function challenge(v: string) {
    return sequence(oid("1.2.840.113549.1.9.7"), set(printableString(v)));
  }

  it.each([
    ["a subject attribute type", (huge: Buffer) => buildCsr({ key: p256, subject: sequence(set(sequence(huge, printableString("x")))) })],
    [
      "an extension id",
      (huge: Buffer) =>
        buildCsr({
          key: p256,
          attributes: [sequence(oid("1.2.840.113549.1.9.14"), set(sequence(sequence(huge, octetString(nullValue())))))],
        }),
    ],
    ["an attribute type", (huge: Buffer) => buildCsr({ key: p256, attributes: [sequence(huge, set(printableString("x")))] })],
  ])("refuses a 60 KB OID as %s: csr_malformed, 400 (the OID decoder reads at most 128 octets)", (_name, build) => {
    // one arc of 60 KB: decoding it in full cost ~0.4 s of event loop per request
    const huge = tlv(0x06, Buffer.concat([Buffer.from([0x2a]), Buffer.alloc(60_000, 0xff), Buffer.from([0x7f])]));
    const csr = build(huge);
    expect(csr.length).toBeLessThan(64 * 1024); // within the body limit: it reaches the parser
    expect(() => parseCsr(csr)).toThrow(expect.objectContaining({ code: "csr_malformed", status: 400 }));
  });

  it("keeps refusal messages free of request bytes", () => {
    try {
      parseCsr(fixture("bad-signature.der"));
    } catch (e) {
      expect(String((e as Error).message)).not.toMatch(/[0-9a-f]{16}/);
    }
  });

  it("ignores a non-critical boolean FALSE written explicitly", () => {
    const der = buildCsr({
      key: p256,
      attributes: [sequence(oid("1.2.840.113549.1.9.14"), set(sequence(sequence(oid("1.2.3"), boolean(false), octetString(nullValue())))))],
    });
    expect(parseCsr(der).extensions).toEqual([{ oid: "1.2.3", critical: false, value: nullValue() }]);
  });
});

describe("RSA key size counts the modulus's magnitude, not its octets", () => {
  const ones = (n: number) => Buffer.alloc(n, 0xff);
  it.each<[string, Buffer, number]>([
    ["one octet", Buffer.from([0x01]), 1],
    ["top bit set", Buffer.from([0x80]), 8],
    ["a DER sign octet", Buffer.from([0x00, 0x80]), 8],
    ["several leading zero octets", Buffer.from([0x00, 0x00, 0x01, 0x00]), 9],
    ["2048 bits", Buffer.concat([Buffer.from([0x80]), ones(255)]), 2048],
    ["2048 bits with a sign octet", Buffer.concat([Buffer.from([0x00, 0x80]), ones(255)]), 2048],
    // 257 octets whose first is zero: "octets × 8 − 8" says 2048
    ["2044 bits behind one zero octet", Buffer.concat([Buffer.from([0x00, 0x0f]), ones(255)]), 2044],
    ["2040 bits behind two zero octets", Buffer.concat([Buffer.from([0x00, 0x00]), ones(255)]), 2040],
    ["4096 bits", ones(512), 4096],
    ["all zero", Buffer.alloc(4), 0],
  ])("%s", (_name, n, bits) => {
    expect(rsaModulusBits(n)).toBe(bits);
  });

  it("a CSR whose 2040-bit modulus is padded to 257 octets is refused as weak", () => {
    const jwk = generateKeyPairSync("rsa", { modulusLength: 2040 }).publicKey.export({ format: "jwk" });
    const n = Buffer.from(jwk.n as string, "base64url");
    const e = Buffer.from(jwk.e as string, "base64url");
    const rsaPublicKey = sequence(tlv(0x02, Buffer.alloc(2), n), tlv(0x02, e));
    const spki = sequence(sequence(oid("1.2.840.113549.1.1.1"), nullValue()), tlv(0x03, Buffer.from([0]), rsaPublicKey));
    const p256 = generateKey("p256");
    expect(codeOf(() => parseCsr(buildCsr({ key: p256, spki })))).toBe("csr_weak_key");
  });
});

describe("requireDeviceId", () => {
  const key = generateKey("p256");
  const withSubject = (...attrs: Parameters<typeof buildCsr>[0]["subject"][]) =>
    parseCsr(buildCsr({ key, subject: attrs.flat() as never }));

  it.each<[string, ReturnType<typeof parseCsr>, string]>([
    ["serialNumber wins over CN", withSubject([org("Acme"), cn("Camera"), serialNumber("dev-9")]), "dev-9"],
    ["CN when no serialNumber", withSubject([cn("dev.1:2-3")]), "dev.1:2-3"],
    ["64 characters", withSubject([cn("a".repeat(64))]), "a".repeat(64)],
  ])("%s", (_n, csr, id) => {
    expect(requireDeviceId(csr)).toBe(id);
  });

  it.each<[string, () => unknown, string]>([
    ["65 characters", () => requireDeviceId(withSubject([cn("a".repeat(65))])), "csr_device_id_invalid"],
    [
      "underscore (openssl vector)",
      () => requireDeviceId(parseCsr(fixture("good-device-id-underscore.pem").toString())),
      "csr_device_id_invalid",
    ],
    ["space (openssl vector)", () => requireDeviceId(parseCsr(fixture("good-device-id-space.pem").toString())), "csr_device_id_invalid"],
    ["non-ASCII", () => requireDeviceId(withSubject([cn("dév")])), "csr_device_id_invalid"],
    ["slash", () => requireDeviceId(withSubject([cn("a/b")])), "csr_device_id_invalid"],
    [
      "empty subject (openssl vector)",
      () => requireDeviceId(parseCsr(fixture("good-empty-subject.pem").toString())),
      "csr_device_id_missing",
    ],
    ["only O", () => requireDeviceId(withSubject([org("Acme")])), "csr_device_id_missing"],
    [
      "two serialNumbers (openssl vector)",
      () => requireDeviceId(parseCsr(fixture("good-two-serialnumbers.pem").toString())),
      "csr_device_id_ambiguous",
    ],
    ["two CNs", () => requireDeviceId(withSubject([cn("a"), cn("b")])), "csr_device_id_ambiguous"],
  ])("%s", (_n, fn, code) => {
    expect(codeOf(fn)).toBe(code);
  });
});
