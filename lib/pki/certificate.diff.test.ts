// Differential test: the same certificate (same serial, dates, key, names) built by @peculiar/x509's
// generator as a reference must have a byte-for-byte identical TBSCertificate. ECDSA signatures are
// randomized, so the signatures are only verified, not compared.
import { createHash, createPublicKey, randomBytes, randomInt, verify } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { issueCertificate, readCertificate } from "./certificate.ts";
import {
  buildCsr,
  buildTestHierarchy,
  cn,
  generateKey,
  PUBLIC_URL,
  serialNumber,
  type TestCa,
  type TestKeyType,
} from "./fixtures/helpers.ts";
import type { LeafProfileId } from "./profiles.ts";
import { randomSerial } from "./serial.ts";
import { crypto, x509 } from "./x509.ts";

const CASES = 240;
const KEY_POOL: TestKeyType[] = ["p256", "p256", "p256", "p256", "p384", "p384", "ed25519", "ed25519", "ed25519", "rsa2048", "rsa2048"];
const DEVICE_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.:-";
const NAME_ALPHABET = ["A", "c", "m", "e", " ", "Ü", "ï", "ø", "é", "東", "京", "&", ",", "+", "'", "ß", "😀", "1", "-", "."];

const pick = <T>(xs: readonly T[]): T => xs[randomInt(xs.length)];
const randomString = (alphabet: readonly string[] | string, min: number, max: number) =>
  Array.from({ length: min + randomInt(max - min + 1) }, () => pick([...alphabet])).join("");
const customerName = () => `${pick(["A", "Ü", "東"])}${randomString(NAME_ALPHABET, 0, 20)}${pick(["x", "ø", "京"])}`;

type Hierarchy = Awaited<ReturnType<typeof buildTestHierarchy>>;
let hierarchies: Hierarchy[];
let keys: { type: TestKeyType; key: ReturnType<typeof generateKey> }[];

beforeAll(async () => {
  // The second hierarchy lives past 2050, so its certificates exercise GeneralizedTime and the notAfter clamp.
  hierarchies = [await buildTestHierarchy(new Date("2026-11-22T06:00:00Z")), await buildTestHierarchy(new Date("2045-06-01T00:00:00Z"))];
  keys = KEY_POOL.map((type) => ({ type, key: generateKey(type) }));
});

const ISSUER_OF: Record<LeafProfileId, keyof Hierarchy> = {
  bootstrap: "bootstrapIssuing",
  "client-tls": "customerIssuing",
  c2pa: "applicationCa",
  server: "tlsIntermediate",
  "ocsp-responder": "customerIssuing",
};
const EKU_OF: Record<LeafProfileId, string> = {
  bootstrap: "1.3.6.1.5.5.7.3.2",
  "client-tls": "1.3.6.1.5.5.7.3.2",
  c2pa: "1.3.6.1.5.5.7.3.36",
  server: "1.3.6.1.5.5.7.3.1",
  "ocsp-responder": "1.3.6.1.5.5.7.3.9",
};

/** The §3 subject written out independently of names.ts/profiles.ts. */
function expectedSubject(profile: LeafProfileId, prefix: string, customer: string, deviceId: string, dns: string): x509.Name {
  const utf8 = (v: string) => [{ utf8String: v }];
  const o = { "2.5.4.10": utf8(customer) };
  switch (profile) {
    case "bootstrap":
      return new x509.Name([o, { "2.5.4.3": utf8(`${prefix} ${customer} Bootstrapping Certificate`) }]);
    case "client-tls":
      return new x509.Name([
        o,
        { "2.5.4.3": utf8(`${prefix} ${customer} Client TLS Certificate`) },
        { "2.5.4.5": [{ printableString: deviceId }] },
      ]);
    case "c2pa":
      return new x509.Name([o, { "2.5.4.3": utf8(deviceId) }]);
    case "server":
      return new x509.Name([o, { "2.5.4.3": utf8(dns) }]);
    case "ocsp-responder":
      return new x509.Name([o, { "2.5.4.3": utf8(`${prefix} ${customer} OCSP Responder`) }]);
  }
}

function expectedSans(profile: LeafProfileId, uid: string, deviceId: string, dns: string, ip: string): x509.JsonGeneralName[] {
  const uidUtf8 = Buffer.from(uid, "utf8");
  // "#<hex>" makes @peculiar/x509 write the attribute value verbatim: a UTF8String TLV.
  const dn = {
    type: "dn" as const,
    value: `0.9.2342.19200300.100.1.1=#0c${uidUtf8.length.toString(16).padStart(2, "0")}${uidUtf8.toString("hex")}`,
  };
  const device = { type: "url" as const, value: `urn:pss:device:${deviceId}` };
  switch (profile) {
    case "client-tls":
    case "c2pa":
      return [dn, device];
    case "server":
      return [dn, { type: "dns", value: dns }, { type: "ip", value: ip }];
    default:
      return [dn];
  }
}

async function importSigningKey(ca: TestCa): Promise<CryptoKey> {
  const curve = ca.key.asymmetricKeyDetails?.namedCurve === "secp384r1" ? "P-384" : "P-256";
  return crypto.subtle.importKey("pkcs8", ca.key.export({ type: "pkcs8", format: "der" }), { name: "ECDSA", namedCurve: curve }, false, [
    "sign",
  ]);
}

describe(`differential: our TBSCertificate equals @peculiar/x509's over ${CASES} random certificates`, () => {
  it("matches byte for byte", async () => {
    const profiles: LeafProfileId[] = ["bootstrap", "client-tls", "c2pa", "server", "ocsp-responder"];
    const seenKeyTypes = new Set<string>();
    let generalizedTimes = 0;
    for (let i = 0; i < CASES; i++) {
      const hierarchy = pick(hierarchies);
      const profile = profiles[i % profiles.length];
      const ca = hierarchy[ISSUER_OF[profile]];
      const caFields = readCertificate(ca.certDer);
      const { type, key } = pick(keys);
      seenKeyTypes.add(type);
      const deviceId = randomString(DEVICE_ID_ALPHABET, 1, 64);
      const customer = customerName();
      const prefix = pick(["PSS", "ACME-PKI", "Ünï"]);
      const uid = pick([randomBytes(8).toString("hex"), `üser-${randomInt(1e6)}`, randomString(NAME_ALPHABET, 1, 30)]);
      const dns = `d${randomInt(1e6)}.example.test`;
      const ip = pick(["10.1.2.3", "2001:db8::1", "192.168.0.254"]);
      const span = caFields.notAfter.getTime() - caFields.notBefore.getTime();
      const now = new Date(caFields.notBefore.getTime() + 3_600_000 + randomInt(Math.floor(span / 1000 - 7200)) * 1000 + randomInt(1000));
      const serial = randomSerial();
      const csr = buildCsr({ key, subject: [cn(`ignored ${i}`), serialNumber(deviceId)] });

      const ours = await issueCertificate({
        csr,
        profile,
        issuer: { certDer: ca.certDer, signer: ca.signer },
        issuerId: ca.id,
        publicUrl: PUBLIC_URL,
        uid,
        customerName: customer,
        subjectPrefix: prefix,
        dnsNames: [dns],
        ipAddresses: [ip],
        now,
        serial,
      });
      const spki = createPublicKey(key).export({ type: "spki", format: "der" });

      const extensions: x509.Extension[] = [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([EKU_OF[profile]], false),
      ];
      if (profile === "ocsp-responder") extensions.push(new x509.Extension("1.3.6.1.5.5.7.48.1.5", false, Buffer.from("0500", "hex")));
      extensions.push(
        await x509.SubjectKeyIdentifierExtension.create(spki, false, crypto),
        new x509.AuthorityKeyIdentifierExtension(caFields.ski!.toString("hex"), false),
        new x509.SubjectAlternativeNameExtension(expectedSans(profile, uid, deviceId, dns, ip), false),
        new x509.CRLDistributionPointsExtension([`${PUBLIC_URL}/crl/${ca.id}.crl`], false),
        new x509.AuthorityInfoAccessExtension({ ocsp: [`${PUBLIC_URL}/ocsp`] }, false),
      );
      const notBefore = new Date(Math.floor((now.getTime() - 300_000) / 1000) * 1000);
      const validityMs = (profile === "ocsp-responder" ? 90 : 365) * 86_400_000;
      const notAfter = new Date(Math.min(Math.floor((now.getTime() + validityMs) / 1000) * 1000, caFields.notAfter.getTime()));
      const reference = await x509.X509CertificateGenerator.create(
        {
          serialNumber: serial.der.toString("hex"),
          subject: expectedSubject(profile, prefix, customer, deviceId, dns),
          issuer: new x509.X509Certificate(ca.certDer).subjectName,
          notBefore,
          notAfter,
          publicKey: spki,
          signingKey: await importSigningKey(ca),
          signingAlgorithm: { name: "ECDSA", hash: ca.signer.algorithm === "ECDSA-P384" ? "SHA-384" : "SHA-256" } as EcdsaParams,
          extensions,
        },
        crypto,
      );

      const ourFields = readCertificate(ours.der);
      const refFields = readCertificate(Buffer.from(reference.rawData));
      if (!ourFields.tbs.equals(refFields.tbs)) {
        expect.fail(
          `case ${i} (${profile}, ${type}) differs:\nours ${ourFields.tbs.toString("hex")}\nref  ${refFields.tbs.toString("hex")}`,
        );
      }
      const issuerKey = createPublicKey({ key: caFields.spki, format: "der", type: "spki" });
      const hash = ca.signer.algorithm === "ECDSA-P384" ? "sha384" : "sha256";
      expect(verify(hash, ourFields.tbs, issuerKey, ourFields.signature)).toBe(true);
      expect(verify(hash, refFields.tbs, issuerKey, refFields.signature)).toBe(true);
      expect(ours.spkiSha256).toBe(createHash("sha256").update(spki).digest("hex"));
      if (ourFields.tbs.includes(Buffer.from([0x18, 0x0f]))) generalizedTimes++;
    }
    expect(seenKeyTypes.size).toBe(4);
    expect(generalizedTimes).toBeGreaterThan(0);
  });
});
