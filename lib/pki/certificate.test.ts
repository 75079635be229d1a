import { createHash, generateKeyPairSync } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { certificateIdentity, issueCaCertificate, issueCertificate, readCertificate } from "./certificate.ts";
import { parseCsr } from "./csr.ts";
import { octetString, sequence, tlv } from "./der.ts";
import { isPkiError } from "./errors.ts";
import {
  buildCsr,
  buildTestHierarchy,
  cn,
  fixture,
  generateKey,
  PUBLIC_URL,
  sanValue,
  serialNumber,
  spkiOf,
  type TestCa,
} from "./fixtures/helpers.ts";
import { encodeGeneralName, encodeName, OID_UID, uidGeneralName } from "./names.ts";
import { serialFromHex } from "./serial.ts";
import { keyObjectSigner } from "./signer.ts";
import { x509 } from "./x509.ts";

const NOW = new Date("2026-11-22T06:00:00.000Z");
const UID = "user-7f3a";
let cas: Awaited<ReturnType<typeof buildTestHierarchy>>;

beforeAll(async () => {
  cas = await buildTestHierarchy(NOW);
});

const issuerOf = (ca: TestCa) => ({ issuer: { certDer: ca.certDer, signer: ca.signer }, issuerId: ca.id, publicUrl: PUBLIC_URL });

async function codeOf(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (isPkiError(e)) return e.code;
    throw e;
  }
  return "accepted";
}

describe("issueCertificate: every §3 field", () => {
  it("client-tls", async () => {
    const key = generateKey("p256");
    const csr = buildCsr({ key, subject: [cn("ignored"), serialNumber("cam-0001")] });
    const cert = await issueCertificate({
      csr,
      profile: "client-tls",
      ...issuerOf(cas.customerIssuing),
      uid: UID,
      customerName: "Acme Ünïcode",
      now: NOW,
      serial: serialFromHex("00ab"),
    });
    expect(cert).toMatchObject({
      serialHex: "ab",
      notBefore: new Date("2026-11-22T05:55:00.000Z"),
      notAfter: new Date("2027-11-22T06:00:00.000Z"),
      subject: "O=Acme Ünïcode, CN=PSS Acme Ünïcode Client TLS Certificate, serialNumber=cam-0001",
      deviceId: "cam-0001",
      profile: "client-tls",
      spkiSha256: createHash("sha256").update(spkiOf(key)).digest("hex"),
    });

    const fields = readCertificate(cert.der);
    const issuer = readCertificate(cas.customerIssuing.certDer);
    expect(fields.issuer.equals(issuer.subject)).toBe(true);
    expect(fields.spki.equals(spkiOf(key))).toBe(true);
    expect(fields.signatureAlgorithm.toString("hex")).toBe("300a06082a8648ce3d040302");

    const x = new x509.X509Certificate(cert.der);
    expect(
      await x.verify({ publicKey: await new x509.X509Certificate(cas.customerIssuing.certDer).publicKey.export(), signatureOnly: true }),
    ).toBe(true);
    const bc = x.getExtension(x509.BasicConstraintsExtension)!;
    expect([bc.critical, bc.ca]).toEqual([true, false]);
    const ku = x.getExtension(x509.KeyUsagesExtension)!;
    expect([ku.critical, ku.usages]).toEqual([true, x509.KeyUsageFlags.digitalSignature]);
    expect(x.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual(["1.3.6.1.5.5.7.3.2"]);
    const ski = x.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
    expect(ski).toBe(
      createHash("sha1")
        .update(fields.spki.subarray(fields.spki.length - 65))
        .digest("hex"),
    );
    expect(x.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(issuer.ski!.toString("hex"));
    const san = x.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.items.map((n) => [n.type, n.value])).toEqual([
      ["dn", `0.9.2342.19200300.100.1.1=${UID}`],
      ["url", "urn:pss:device:cam-0001"],
    ]);
    expect(san.critical).toBe(false);
    const crl = x.getExtension(x509.CRLDistributionPointsExtension)!;
    expect(crl.distributionPoints[0].distributionPoint!.fullName![0].uniformResourceIdentifier).toBe(`${PUBLIC_URL}/crl/cust-1.crl`);
    const aia = x.getExtension(x509.AuthorityInfoAccessExtension)!;
    expect(aia.ocsp.map((g) => g.value)).toEqual([`${PUBLIC_URL}/ocsp`]);
    expect(aia.caIssuers).toEqual([]);
    expect(cert.pem).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
  });

  it("writes the UID as a UTF8String in a single-RDN directoryName, and the subject types of §3", async () => {
    const cert = await issueCertificate({
      csr: buildCsr({ key: generateKey("p256"), subject: [serialNumber("dev-1")] }),
      profile: "client-tls",
      ...issuerOf(cas.customerIssuing),
      uid: "Ü-uid",
      customerName: "Acme",
      now: NOW,
    });
    const dirName = encodeGeneralName(uidGeneralName("Ü-uid"));
    expect(dirName.toString("hex")).toContain(`0c${Buffer.byteLength("Ü-uid").toString(16).padStart(2, "0")}`);
    expect(cert.der.includes(dirName)).toBe(true);
    const subject = encodeName([
      { oid: "2.5.4.10", value: "Acme", encoding: "utf8" },
      { oid: "2.5.4.3", value: "PSS Acme Client TLS Certificate", encoding: "utf8" },
      { oid: "2.5.4.5", value: "dev-1", encoding: "printable" },
    ]);
    expect(readCertificate(cert.der).subject.equals(subject)).toBe(true);
    expect(OID_UID).toBe("0.9.2342.19200300.100.1.1");
  });

  it("clamps notAfter to the issuer's notAfter", async () => {
    const late = new Date(readCertificate(cas.customerIssuing.certDer).notAfter.getTime() - 86_400_000);
    const cert = await issueCertificate({
      csr: fixture("good-p256.pem"),
      profile: "client-tls",
      ...issuerOf(cas.customerIssuing),
      uid: UID,
      customerName: "Acme",
      now: late,
    });
    expect(cert.notAfter).toEqual(readCertificate(cas.customerIssuing.certDer).notAfter);
  });

  it("accepts a ParsedCsr, Ed25519 / RSA / P-384 keys, and a caller-vouched device id", async () => {
    for (const name of ["good-ed25519.pem", "good-rsa2048-pss.pem", "good-p384.pem", "good-rsa4096.pem"]) {
      const csr = parseCsr(fixture(name).toString());
      const cert = await issueCertificate({
        csr,
        profile: "c2pa",
        ...issuerOf(cas.applicationCa),
        uid: UID,
        customerName: "Acme",
        deviceId: csr.deviceId,
        now: NOW,
      });
      expect(cert.subject).toBe(`O=Acme, CN=${csr.deviceId}`);
    }
    const vouched = await issueCertificate({
      csr: fixture("good-empty-subject.pem"),
      profile: "client-tls",
      ...issuerOf(cas.customerIssuing),
      uid: UID,
      customerName: "Acme",
      deviceId: "from-mtls",
      now: NOW,
    });
    expect(vouched.deviceId).toBe("from-mtls");
  });

  it("adds caIssuers when configured, and nocheck on OCSP responders", async () => {
    const cert = await issueCertificate({
      csr: fixture("good-p256.pem"),
      profile: "ocsp-responder",
      ...issuerOf(cas.customerIssuing),
      caIssuersUrl: `${PUBLIC_URL}/ca/cust-1.crt`,
      customerName: "Acme",
      now: NOW,
    });
    const x = new x509.X509Certificate(cert.der);
    expect(x.getExtension(x509.AuthorityInfoAccessExtension)!.caIssuers.map((g) => g.value)).toEqual([`${PUBLIC_URL}/ca/cust-1.crt`]);
    expect(x.getExtension("1.3.6.1.5.5.7.48.1.5")).not.toBeNull();
    expect(x.notAfter).toEqual(new Date(NOW.getTime() + 90 * 86_400_000));
  });

  it("reads the identity (UID, device id, serial) back from an issued certificate", async () => {
    const cert = await issueCertificate({
      csr: buildCsr({ key: generateKey("p256"), subject: [serialNumber("dev-77")] }),
      profile: "client-tls",
      ...issuerOf(cas.customerIssuing),
      uid: "Ü-uid",
      customerName: "Acme",
      now: NOW,
      serial: serialFromHex("0a0b"),
    });
    expect(certificateIdentity(cert.der)).toEqual({ uid: "Ü-uid", deviceId: "dev-77", serialHex: "a0b" });
    expect(certificateIdentity(cas.customerIssuing.certDer)).toMatchObject({ uid: undefined, deviceId: undefined });
  });

  it("re-reads the issuer when its certificate changes under the same id", async () => {
    const p = {
      csr: fixture("good-p256.pem"),
      profile: "client-tls" as const,
      uid: UID,
      customerName: "Acme",
      now: NOW,
      publicUrl: PUBLIC_URL,
      issuerId: "same-id",
    };
    const a = await issueCertificate({ ...p, issuer: { certDer: cas.customerIssuing.certDer, signer: cas.customerIssuing.signer } });
    const b = await issueCertificate({ ...p, issuer: { certDer: cas.applicationCa.certDer, signer: cas.applicationCa.signer } });
    expect(readCertificate(a.der).issuer.equals(readCertificate(b.der).issuer)).toBe(false);
  });
});

describe("issueCertificate refuses (profile checks and issuer checks)", () => {
  const key = generateKey("p256");
  const uidDirName = (uid: string) => encodeGeneralName(uidGeneralName(uid));
  const uri = (u: string) => tlv(0x86, Buffer.from(u));
  const withSan = (...names: Buffer[]) =>
    buildCsr({ key, subject: [cn("dev-1")], extensions: [{ oid: "2.5.29.17", value: sanValue(...names) }] });
  const base = () => ({ ...issuerOf(cas.customerIssuing), uid: UID, customerName: "Acme", now: NOW });
  type Params = Parameters<typeof issueCertificate>[0];
  type Over = Partial<Params> & { ca?: keyof typeof cas };
  // Tables are collected before beforeAll builds the CAs: overrides that need them are functions or a CA name.
  const issue = (over: Over | (() => Over)) => () => {
    const { ca, ...rest } = typeof over === "function" ? over() : over;
    return issueCertificate({
      csr: fixture("good-p256.pem"),
      profile: "client-tls",
      ...base(),
      ...(ca ? issuerOf(cas[ca]) : {}),
      ...rest,
    } as Params);
  };
  const fx = (name: string) => fixture(name).toString();

  it.each<[string, () => Promise<unknown>, string]>([
    ["requested DNS SAN", issue({ csr: fx("good-san-dns.pem") }), "csr_san_not_allowed"],
    ["requested email SAN", issue({ csr: fx("good-san-email.pem") }), "csr_san_not_allowed"],
    ["requested IP SAN", issue({ csr: fx("good-san-ip.pem") }), "csr_san_not_allowed"],
    ["another device's URI", issue({ csr: fx("good-san-other-device.pem") }), "csr_san_not_allowed"],
    ["another customer user's UID", issue({ csr: withSan(uidDirName("someone-else")) }), "csr_san_not_allowed"],
    [
      "the device URI on a bootstrap request",
      issue({ csr: fx("good-san-device-uri.pem"), profile: "bootstrap", ca: "bootstrapIssuing" }),
      "csr_san_not_allowed",
    ],
    ["an otherName SAN", issue({ csr: withSan(tlv(0xa0, sequence())) }), "csr_san_not_allowed"],
    ["CA:TRUE (critical)", issue({ csr: fx("good-ca-true.pem") }), "csr_ca_requested"],
    ["CA:TRUE (non-critical, pathlen)", issue({ csr: fx("good-ca-true-noncritical.pem") }), "csr_ca_requested"],
    [
      "CA:TRUE on a bootstrap request",
      issue({ csr: fx("good-ca-true.pem"), profile: "bootstrap", ca: "bootstrapIssuing" }),
      "csr_ca_requested",
    ],
    ["unknown critical extension", issue({ csr: fx("good-unknown-critical.pem") }), "csr_critical_extension_unknown"],
    ["critical certificatePolicies", issue({ csr: fx("good-critical-policy.pem") }), "csr_critical_extension_unknown"],
    [
      "critical unknown extension on server",
      issue({ csr: fx("good-unknown-critical.pem"), profile: "server", dnsNames: ["pss.example"] }),
      "csr_critical_extension_unknown",
    ],
    ["device id with _", issue({ csr: fx("good-device-id-underscore.pem") }), "csr_device_id_invalid"],
    ["device id with a space", issue({ csr: fx("good-device-id-space.pem") }), "csr_device_id_invalid"],
    ["device id of 65 characters", issue({ csr: buildCsr({ key, subject: [cn("a".repeat(65))] }) }), "csr_device_id_invalid"],
    ["vouched device id with _", issue({ deviceId: "dev_1" }), "csr_device_id_invalid"],
    ["empty subject on client-tls", issue({ csr: fx("good-empty-subject.pem") }), "csr_device_id_missing"],
    ["empty subject on c2pa", issue({ csr: fx("good-empty-subject.pem"), profile: "c2pa", ca: "applicationCa" }), "csr_device_id_missing"],
    ["two serialNumbers", issue({ csr: fx("good-two-serialnumbers.pem") }), "csr_device_id_ambiguous"],
    ["device id differing from the authenticated one", issue({ deviceId: "other-device" }), "csr_device_id_mismatch"],
    ["no UID on a customer profile", issue({ uid: undefined }), "profile_uid_missing"],
    ["no UID on bootstrap", issue({ uid: "", profile: "bootstrap", ca: "bootstrapIssuing" }), "profile_uid_missing"],
    ["server without names", issue({ profile: "server" }), "profile_names_missing"],
    ["server with an invalid DNS name", issue({ profile: "server", dnsNames: ["bad_name.example"] }), "profile_names_invalid"],
    ["server with an invalid IP", issue({ profile: "server", ipAddresses: ["300.1.1.1"] }), "ip_invalid"],
    [
      "server request asking for another name",
      issue({ csr: fx("good-san-dns.pem"), profile: "server", dnsNames: ["pss.example"] }),
      "csr_san_not_allowed",
    ],
    ["unknown profile", issue({ profile: "dice" as never }), "profile_unknown"],
    ["customer name making the CN too long", issue({ customerName: "x".repeat(40) }), "subject_too_long"],
    [
      "a leaf as issuer",
      async () => {
        const leaf = await issueCertificate({ csr: fx("good-p256.pem"), profile: "client-tls", ...base() });
        return issueCertificate({
          csr: fx("good-p256.pem"),
          profile: "client-tls",
          ...base(),
          issuer: { certDer: leaf.der, signer: cas.customerIssuing.signer },
          issuerId: "leaf",
        });
      },
      "issuer_not_ca",
    ],
    [
      "garbage issuer certificate",
      issue(() => ({ issuer: { certDer: Buffer.from("3003020100", "hex"), signer: cas.customerIssuing.signer }, issuerId: "garbage" })),
      "issuer_invalid",
    ],
    [
      "signer of another CA",
      issue(() => ({ issuer: { certDer: cas.customerIssuing.certDer, signer: cas.applicationCa.signer } })),
      "issuer_key_mismatch",
    ],
    ["issuer expired", issue({ now: new Date("2032-01-01T00:00:00Z") }), "issuer_expired"],
    ["issuer not yet valid", issue({ now: new Date("2020-01-01T00:00:00Z") }), "issuer_not_yet_valid"],
    ["a CSR that fails its signature", issue({ csr: fixture("bad-signature.der") }), "csr_invalid_signature"],
    ["a weak key", issue({ csr: fx("bad-rsa1024.pem") }), "csr_weak_key"],
  ])("%s", async (_name, fn, code) => {
    expect(await codeOf(fn)).toBe(code);
  });

  it.each<[string, Buffer]>([["both, in the other order", withSan(uri("urn:pss:device:dev-1"), uidDirName(UID))]])(
    "accepts a requested SAN equal to what it issues: %s",
    async (_n, csr) => {
      expect(await codeOf(() => issueCertificate({ csr, profile: "client-tls", ...base() }))).toBe("accepted");
    },
  );

  it.each([
    ["its own device URI only", withSan(uri("urn:pss:device:dev-1"))],
    ["its own UID directoryName only", withSan(uidDirName(UID))],
  ])("refuses a requested SAN that is only a part of what it issues (SPEC §3: equal): %s", async (_n, csr) => {
    expect(await codeOf(() => issueCertificate({ csr, profile: "client-tls", ...base() }))).toBe("csr_san_incomplete");
  });

  it.each(["good-noncritical-unknown.pem", "good-critical-keyusage.pem", "good-ca-false.pem", "good-challenge.pem"])(
    "ignores what it does not copy: %s",
    async (name) => {
      const cert = await issueCertificate({ csr: fx(name), profile: "client-tls", ...base() });
      const x = new x509.X509Certificate(cert.der);
      expect(x.extensions.map((e) => e.type)).toEqual([
        "2.5.29.19",
        "2.5.29.15",
        "2.5.29.37",
        "2.5.29.14",
        "2.5.29.35",
        "2.5.29.17",
        "2.5.29.31",
        "1.3.6.1.5.5.7.1.1",
      ]);
    },
  );
});

describe("issueCaCertificate", () => {
  it("writes the §2 CA fields", async () => {
    const root = readCertificate(cas.root.certDer);
    expect(root.issuer.equals(root.subject)).toBe(true);
    expect(root.ca).toBe(true);
    expect(root.pathLen).toBeUndefined();
    expect(root.notAfter.getUTCFullYear()).toBe(2046);
    expect(root.extensions.map((e) => e.oid)).toEqual(["2.5.29.19", "2.5.29.15", "2.5.29.14", "2.5.29.35"]);
    const issuing = readCertificate(cas.customerIssuing.certDer);
    expect(issuing.pathLen).toBe(0);
    expect(issuing.extensions.map((e) => [e.oid, e.critical])).toEqual([
      ["2.5.29.19", true],
      ["2.5.29.15", true],
      ["2.5.29.14", false],
      ["2.5.29.35", false],
      ["2.5.29.31", false],
      ["1.3.6.1.5.5.7.1.1", false],
    ]);
    expect(issuing.keyUsageBits!.toString("hex")).toBe("06");
    expect(readCertificate(cas.tlsIntermediate.certDer).pathLen).toBe(1);
    expect(issuing.notAfter.getUTCFullYear()).toBe(2031);
    expect(readCertificate(cas.bootstrapIssuing.certDer).notAfter.getUTCFullYear()).toBe(2028);
    const x = new x509.X509Certificate(cas.customerIssuing.certDer);
    expect(
      x.getExtension(x509.CRLDistributionPointsExtension)!.distributionPoints[0].distributionPoint!.fullName![0].uniformResourceIdentifier,
    ).toBe(`${PUBLIC_URL}/crl/tls-int-1.crl`);
  });

  it.each<[string, () => Promise<unknown>, string]>([
    ["a CA under an issuing CA (pathLen 0)", () => subCa("customer-tls-issuing", cas.customerIssuing), "issuer_path_length_exceeded"],
    ["a P-384 issuing CA", () => subCa("customer-tls-issuing", cas.tlsIntermediate, "secp384r1"), "ca_key_unsupported"],
    ["an Ed25519 intermediate", () => subCa("tls-intermediate", cas.root, "ed25519"), "ca_key_unsupported"],
    ["unknown CA profile", () => subCa("dice-ca" as never, cas.root), "profile_unknown"],
  ])("refuses %s", async (_n, fn, code) => {
    expect(await codeOf(fn)).toBe(code);
  });

  async function subCa(profile: Parameters<typeof issueCaCertificate>[0]["profile"], parent: TestCa, curve = "prime256v1") {
    const key =
      curve === "ed25519" ? generateKeyPairSync("ed25519").privateKey : generateKeyPairSync("ec", { namedCurve: curve }).privateKey;
    return issueCaCertificate({
      profile,
      subject: { organization: "PSS Test", commonName: "Sub CA" },
      subjectKey: { spki: spkiOf(key) },
      issuer: { certDer: parent.certDer, signer: parent.signer },
      publicUrl: PUBLIC_URL,
      issuerId: parent.id,
      now: NOW,
    });
  }

  it("signs a P-384 root with ecdsa-with-SHA384", () => {
    expect(readCertificate(cas.root.certDer).signatureAlgorithm.toString("hex")).toBe("300a06082a8648ce3d040303");
    expect(keyObjectSigner(cas.root.key).algorithm).toBe("ECDSA-P384");
    expect(octetString(Buffer.alloc(0)).length).toBe(2);
  });
});
