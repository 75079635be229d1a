// Test-only helper: an in-memory CA hierarchy (root → intermediate → issuing CA → leaf) built directly with
// @peculiar/x509's generator, so the CRL, OCSP and path tests do not depend on the real issuance pipeline.
// Every field is spelled out, and every knob a test needs to craft a broken chain is an option.
import { execFile, spawnSync } from "node:child_process";
import { KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { AsnConvert } from "@peculiar/asn1-schema";
import * as asn1X509 from "@peculiar/asn1-x509";
import { keyObjectSigner, type Signer } from "../signer.ts";
import { crypto, x509 } from "../x509.ts";

export const OID_UID = "0.9.2342.19200300.100.1.1";
export const EKU = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  ocspSigning: "1.3.6.1.5.5.7.3.9",
} as const;
const OID_OCSP_NOCHECK = "1.3.6.1.5.5.7.48.1.5";

const DAY = 24 * 60 * 60 * 1000;

export interface TestCert {
  cert: x509.X509Certificate;
  der: Buffer;
  pem: string;
  keys: CryptoKeyPair;
  signer: Signer;
}

export interface IssueOptions {
  subject: string;
  /** the issuing CA; absent → self-signed */
  issuer?: TestCert;
  keys?: CryptoKeyPair;
  curve?: "P-256" | "P-384";
  serialHex?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** basicConstraints: { ca: true, pathLength? }, { ca: false }, or null to leave the extension out */
  basicConstraints?: { ca: boolean; pathLength?: number } | null;
  /** keyUsage flags, or null to leave the extension out */
  keyUsage?: x509.KeyUsageFlags | null;
  /** EKU OIDs; absent → no EKU extension */
  eku?: string[];
  san?: { uid?: string; uri?: string; dns?: string[] };
  /** write this issuer DN instead of the issuer's subject (name-chaining tests) */
  issuerNameOverride?: string;
  /** sign with this key instead of the issuer's (bad-signature tests); the AKI still names the issuer */
  signingKeyOverride?: CryptoKey;
  ocspNoCheck?: boolean;
  extraExtensions?: x509.Extension[];
}

export async function generateKeys(curve: "P-256" | "P-384" = "P-256"): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: curve }, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** A random positive 128-bit serial, like the real issuance (SPEC §3). */
function randomSerialHex(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] & 0x7f) | 0x40; // positive, and no leading zero byte
  return Buffer.from(bytes).toString("hex");
}

export async function issueCert(opts: IssueOptions): Promise<TestCert> {
  const keys = opts.keys ?? (await generateKeys(opts.curve));
  const issuerKeys = opts.issuer?.keys ?? keys;
  const notBefore = opts.notBefore ?? new Date(Date.now() - 5 * 60 * 1000);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + 365 * DAY);

  const extensions: x509.Extension[] = [];
  if (opts.basicConstraints !== null) {
    const bc = opts.basicConstraints ?? { ca: false };
    extensions.push(new x509.BasicConstraintsExtension(bc.ca, bc.pathLength, true));
  }
  if (opts.keyUsage !== null && opts.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(opts.keyUsage, true));
  if (opts.eku) extensions.push(new x509.ExtendedKeyUsageExtension(opts.eku, false));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto));
  extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuerKeys.publicKey, false, crypto));
  if (opts.san) extensions.push(sanExtension(opts.san));
  if (opts.ocspNoCheck) extensions.push(new x509.Extension(OID_OCSP_NOCHECK, false, new Uint8Array([0x05, 0x00])));
  extensions.push(...(opts.extraExtensions ?? []));

  const subject = new x509.Name(opts.subject);
  const issuerName = opts.issuerNameOverride
    ? new x509.Name(opts.issuerNameOverride)
    : opts.issuer
      ? new x509.Name(opts.issuer.cert.subjectName.toArrayBuffer())
      : subject;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: opts.serialHex ?? randomSerialHex(),
      subject,
      issuer: issuerName,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: opts.signingKeyOverride ?? issuerKeys.privateKey,
      signingAlgorithm: { name: "ECDSA", hash: hashFor(issuerKeys) },
      extensions,
    },
    crypto,
  );
  return {
    cert,
    der: Buffer.from(cert.rawData),
    pem: cert.toString("pem"),
    keys,
    signer: keyObjectSigner(KeyObject.from(keys.privateKey)),
  };
}

function hashFor(keys: CryptoKeyPair): string {
  return (keys.privateKey.algorithm as EcKeyAlgorithm).namedCurve === "P-384" ? "SHA-384" : "SHA-256";
}

/** The SAN shape the profiles issue: one directoryName with a single UID RDN (UTF8String), plus optional URI/DNS names. */
function sanExtension(san: NonNullable<IssueOptions["san"]>): x509.Extension {
  const names: asn1X509.GeneralName[] = [];
  if (san.uid !== undefined) {
    const uid = new asn1X509.AttributeTypeAndValue({ type: OID_UID, value: new asn1X509.AttributeValue({ utf8String: san.uid }) });
    names.push(new asn1X509.GeneralName({ directoryName: new asn1X509.Name([new asn1X509.RelativeDistinguishedName([uid])]) }));
  }
  if (san.uri !== undefined) names.push(new asn1X509.GeneralName({ uniformResourceIdentifier: san.uri }));
  for (const dns of san.dns ?? []) names.push(new asn1X509.GeneralName({ dNSName: dns }));
  return new x509.Extension("2.5.29.17", false, AsnConvert.serialize(new asn1X509.SubjectAlternativeName(names)));
}

export const CA_KEY_USAGE = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;

/** A CA certificate as SPEC §2 describes it; `pathLength` 0 for issuing CAs. */
export function issueCa(subject: string, issuer: TestCert | undefined, extra: Partial<IssueOptions> = {}): Promise<TestCert> {
  return issueCert({ subject, issuer, basicConstraints: { ca: true }, keyUsage: CA_KEY_USAGE, ...extra });
}

/** A Client TLS leaf as SPEC §3 describes it. */
export function issueLeaf(issuer: TestCert, extra: Partial<IssueOptions> = {}): Promise<TestCert> {
  const deviceId = "device-1";
  return issueCert({
    subject: `CN=PSS Test Client TLS Certificate,O=Test Customer,2.5.4.5=${deviceId}`,
    issuer,
    basicConstraints: { ca: false },
    keyUsage: x509.KeyUsageFlags.digitalSignature,
    eku: [EKU.clientAuth],
    san: { uid: "user-uid-1", uri: `urn:pss:device:${deviceId}` },
    notAfter: new Date(Date.now() + 30 * DAY),
    ...extra,
  });
}

export interface TestHierarchy {
  root: TestCert;
  intermediate: TestCert;
  issuing: TestCert;
  leaf: TestCert;
}

/** Root (no pathLen) → intermediate (pathLen 1) → issuing CA (pathLen 0) → Client TLS leaf. */
export async function createHierarchy(prefix = "PSS Test"): Promise<TestHierarchy> {
  const root = await issueCa(`CN=${prefix} Root CA G1,O=PSS`, undefined, { notAfter: new Date(Date.now() + 3650 * DAY) });
  const intermediate = await issueCa(`CN=${prefix} TLS Intermediate CA G1,O=PSS`, root, { basicConstraints: { ca: true, pathLength: 1 } });
  const issuing = await issueCa(`CN=${prefix} Customer TLS Issuing CA G1,O=PSS`, intermediate, {
    basicConstraints: { ca: true, pathLength: 0 },
  });
  const leaf = await issueLeaf(issuing);
  return { root, intermediate, issuing, leaf };
}

/** PEM bundle of several certificates (for openssl -CAfile / -untrusted). */
export function pemBundle(...certs: TestCert[]): string {
  return certs.map((c) => c.pem).join("\n");
}

/** A scratch directory for files handed to openssl; removed by the returned cleanup. */
export function scratchDir(): { dir: string; write(name: string, data: string | Uint8Array): string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "pss-pki-"));
  return {
    dir,
    write(name, data) {
      const file = path.join(dir, name);
      writeFileSync(file, data);
      return file;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs openssl and returns stdout+stderr and the exit code (never throws on a non-zero exit). */
export function openssl(args: string[]): { code: number; out: string } {
  const r = spawnSync("openssl", args, { encoding: "utf8", timeout: 30_000, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** Async variant, for commands that talk to a server running in the same process. */
export function opensslAsync(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    execFile("openssl", args, { encoding: "utf8", timeout: 30_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: error ? Number(error.code) : 0, out: `${stdout}${stderr}` });
    });
  });
}
