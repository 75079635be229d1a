// In-process issuance benchmark (no database): parse + verify a CSR, build and sign the certificate, on one
// core, next to the same work done with @peculiar/x509 as a reference. `pss bench issue` adds the DB write.
import { issueCaCertificate, issueCertificate } from "./certificate.ts";
import { createCsr } from "./csr.ts";
import { newPrivateKey } from "./keygen.ts";
import { OID_CN, OID_SERIAL_NUMBER } from "./names.ts";
import { keyObjectSigner } from "./signer.ts";
import { crypto, x509 } from "./x509.ts";

export type BenchKeyType = "p256" | "p384" | "ed25519" | "rsa2048";

export interface BenchIssueOptions {
  /** Measuring time for our pipeline; the reference gets half of it (at least one second). Default 5. */
  seconds?: number;
  /** Key type of the device CSRs. Default p256. */
  keyType?: BenchKeyType;
}

export interface BenchIssueResult {
  issue_per_s: number;
  p50_ms: number;
  p95_ms: number;
  reference_peculiar_per_s: number;
  /** issue_per_s / reference_peculiar_per_s */
  ratio: number;
  issued: number;
  key_type: BenchKeyType;
}

const POOL = 64;
const PUBLIC_URL = "http://pss.bench.invalid";

/** Runs `op` back to back for `seconds`, returning per-operation latencies in ms. */
async function measure(seconds: number, op: (i: number) => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  const end = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  for (let i = 0; ; i++) {
    const t0 = process.hrtime.bigint();
    await op(i);
    const t1 = process.hrtime.bigint();
    latencies.push(Number(t1 - t0) / 1e6);
    if (t1 >= end) return latencies;
  }
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
const round = (n: number, digits = 3) => Math.round(n * 10 ** digits) / 10 ** digits;

export async function benchIssue({ seconds = 5, keyType = "p256" }: BenchIssueOptions = {}): Promise<BenchIssueResult> {
  const now = new Date();
  const rootSigner = keyObjectSigner(newPrivateKey());
  const root = await issueCaCertificate({
    profile: "root",
    subject: { organization: "PSS Bench", commonName: "PSS Bench Root CA G1" },
    subjectKey: rootSigner,
    now,
  });
  const caKey = newPrivateKey();
  const caSigner = keyObjectSigner(caKey);
  const ca = await issueCaCertificate({
    profile: "customer-tls-issuing",
    subject: { organization: "PSS Bench", commonName: "PSS Bench TLS Issuing CA G1" },
    subjectKey: { spki: caSigner.spki },
    issuer: { certDer: root.der, signer: rootSigner },
    publicUrl: PUBLIC_URL,
    issuerId: "bench-root",
    now,
  });
  const csrs = Array.from({ length: POOL }, (_, i) =>
    createCsr({
      key: newPrivateKey(keyType),
      subject: [
        { oid: OID_CN, value: `bench device ${i}`, encoding: "utf8" },
        { oid: OID_SERIAL_NUMBER, value: `bench-${i}`, encoding: "printable" },
      ],
    }),
  );

  const ours = (i: number) =>
    issueCertificate({
      csr: csrs[i % POOL],
      profile: "client-tls",
      issuer: { certDer: ca.der, signer: caSigner },
      issuerId: "bench-ca",
      publicUrl: PUBLIC_URL,
      uid: "bench-user",
      customerName: "Bench Customer",
    });

  // The reference: the same certificate with @peculiar/x509 (parse + verify the CSR, generator, extensions).
  const caCert = new x509.X509Certificate(ca.der);
  const signingKey = await crypto.subtle.importKey(
    "pkcs8",
    caKey.export({ type: "pkcs8", format: "der" }),
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign"],
  );
  const aki = new x509.AuthorityKeyIdentifierExtension(
    (caCert.getExtension(x509.SubjectKeyIdentifierExtension) as x509.SubjectKeyIdentifierExtension).keyId,
  );
  const reference = async (i: number) => {
    const csr = new x509.Pkcs10CertificateRequest(csrs[i % POOL]);
    if (!(await csr.verify(crypto))) throw new Error("reference: CSR signature");
    const deviceId = csr.subjectName.getField("2.5.4.5")[0];
    const nowRef = new Date();
    await x509.X509CertificateGenerator.create(
      {
        subject: new x509.Name([
          { "2.5.4.10": [{ utf8String: "Bench Customer" }] },
          { "2.5.4.3": [{ utf8String: "PSS Bench Customer Client TLS Certificate" }] },
          { "2.5.4.5": [{ printableString: deviceId }] },
        ]),
        issuer: caCert.subjectName,
        notBefore: new Date(nowRef.getTime() - 300_000),
        notAfter: new Date(Math.min(nowRef.getTime() + 365 * 86_400_000, caCert.notAfter.getTime())),
        publicKey: csr.publicKey.rawData,
        signingKey,
        signingAlgorithm: { name: "ECDSA", hash: "SHA-256" } as EcdsaParams,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension(["1.3.6.1.5.5.7.3.2"]),
          await x509.SubjectKeyIdentifierExtension.create(csr.publicKey.rawData, false, crypto),
          aki,
          new x509.SubjectAlternativeNameExtension([
            { type: "dn", value: "0.9.2342.19200300.100.1.1=#0c0a62656e63682d75736572" },
            { type: "url", value: `urn:pss:device:${deviceId}` },
          ]),
          new x509.CRLDistributionPointsExtension([`${PUBLIC_URL}/crl/bench-ca.crl`]),
          new x509.AuthorityInfoAccessExtension({ ocsp: [`${PUBLIC_URL}/ocsp`] }),
        ],
      },
      crypto,
    );
  };

  // Warm up both paths (JIT, issuer cache, OpenSSL key contexts) before measuring.
  for (let i = 0; i < 200; i++) await ours(i);
  for (let i = 0; i < 20; i++) await reference(i);

  const latencies = (await measure(seconds, ours)).sort((a, b) => a - b);
  const refLatencies = await measure(Math.max(1, seconds / 2), reference);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const issuePerS = (latencies.length * 1000) / sum(latencies);
  const refPerS = (refLatencies.length * 1000) / sum(refLatencies);
  return {
    issue_per_s: Math.round(issuePerS),
    p50_ms: round(percentile(latencies, 0.5)),
    p95_ms: round(percentile(latencies, 0.95)),
    reference_peculiar_per_s: Math.round(refPerS),
    ratio: round(issuePerS / refPerS, 2),
    issued: latencies.length,
    key_type: keyType,
  };
}
