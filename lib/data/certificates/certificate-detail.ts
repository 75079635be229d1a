import "server-only";
import { db } from "../../db/client.ts";
import { toPem } from "../../pki/der.ts";
import { x509 } from "../../pki/x509.ts";
import { showCertificate } from "./show-certificate.ts";

const EKU_NAMES: Record<string, string> = {
  "1.3.6.1.5.5.7.3.1": "serverAuth",
  "1.3.6.1.5.5.7.3.2": "clientAuth",
  "1.3.6.1.5.5.7.3.3": "codeSigning",
  "1.3.6.1.5.5.7.3.4": "emailProtection",
  "1.3.6.1.5.5.7.3.9": "OCSPSigning",
  "1.3.6.1.5.5.7.3.36": "documentSigning",
};

function hex(buf: ArrayBuffer): string {
  return Buffer.from(buf).toString("hex").toUpperCase().match(/../g)?.join(":") ?? "";
}

/**
 * A certificate decoded for display — subject, SAN (with the UID), validity, EKU, issuer, fingerprints —
 * with its chain up to the root. Tenant-scoped by showCertificate: another customer's serial is a 404.
 */
export async function certificateDetail(serial: string, customerId: string | null) {
  const cert = await showCertificate(serial, customerId);
  const parsed = new x509.X509Certificate(cert.pem);
  const san = parsed.getExtension(x509.SubjectAlternativeNameExtension);
  const eku = parsed.getExtension(x509.ExtendedKeyUsageExtension);
  const [sha256, sha1, row] = await Promise.all([
    parsed.getThumbprint("SHA-256"),
    parsed.getThumbprint("SHA-1"),
    db().certificate.findUnique({ where: { serial: cert.serial }, select: { deviceRef: true, customerId: true, kind: true } }),
  ]);
  const chain: { id: string; subject: string; status: string; pem: string }[] = [];
  let next: string | null = cert.issuer.id;
  while (next && chain.length < 6) {
    const ca: { id: string; subject: string; status: string; parentId: string | null; certDer: Uint8Array } | null =
      await db().certificateAuthority.findUnique({
        where: { id: next },
        select: { id: true, subject: true, status: true, parentId: true, certDer: true },
      });
    if (!ca) break;
    chain.push({ id: ca.id, subject: ca.subject, status: ca.status, pem: toPem("CERTIFICATE", ca.certDer) });
    next = ca.parentId;
  }
  return {
    ...cert,
    deviceRef: row?.deviceRef ?? null,
    subjectDn: parsed.subject,
    issuerDn: parsed.issuer,
    san: san ? san.names.items.map((n) => ({ type: n.type, value: n.value })) : [],
    eku: eku ? eku.usages.map((u) => EKU_NAMES[String(u)] ?? String(u)) : [],
    publicKey: describeKey(parsed.publicKey.algorithm),
    signatureAlgorithm: describeKey(parsed.signatureAlgorithm as Algorithm),
    sha256: hex(sha256),
    sha1: hex(sha1),
    chain,
  };
}

function describeKey(alg: Algorithm & { namedCurve?: string; modulusLength?: number; hash?: { name: string } }): string {
  return [alg.name, alg.namedCurve, alg.modulusLength ? `${alg.modulusLength} bit` : null, alg.hash?.name].filter(Boolean).join(" ");
}

export type CertificateDetail = Awaited<ReturnType<typeof certificateDetail>>;
