// Application CAs under a customer-supplied parent (SPEC §2 — for C2PA, a CA on a trust list the customer
// already uses). The key stays in our key store: we hand out a CSR signed with it, the customer's CA signs a CA
// certificate for it, and before that certificate may issue anything it must prove it is the one we asked for
// (our key, our subject), a CA allowed to sign certificates and CRLs, valid now, and chain — signature by
// signature, with every CA constraint — to the self-signed root the customer supplies.
//
// Error codes (400): external_ca_malformed, external_ca_key_mismatch, external_ca_subject_mismatch,
// external_ca_chain_incomplete, external_ca_validity, external_ca_constraints, external_ca_ski_missing,
// external_ca_weak_signature, external_ca_weak_key, and validatePath's own codes (chain_signature_invalid,
// ca_flag_missing, ca_key_usage_missing, path_length_exceeded, cert_expired, eku_missing, …).
import { X509Certificate } from "node:crypto";
import { encodeSubject, readCertificate } from "./certificate.ts";
import {
  bitString,
  boolean,
  children,
  contentOf,
  decodeOid,
  namedBits,
  octetString,
  oid,
  readTlv,
  sequence,
  set,
  smallInteger,
  tlv,
} from "./der.ts";
import { isPkiError, PkiError } from "./errors.ts";
import { formatName, type SubjectFields, subjectAttributes } from "./names.ts";
import { EKU_OIDS, type RequiredEku, validatePath } from "./path.ts";
import { SIGNATURE_ALGORITHM_DER, type Signer } from "./signer.ts";

const EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
const BASIC_CONSTRAINTS = "2.5.29.19";
const KEY_USAGE = "2.5.29.15";
/** keyUsage bits: keyCertSign (5), cRLSign (6) */
const CA_KEY_USAGE = [5, 6];

/**
 * A PKCS#10 request for a CA key held by `signer` (a key store's; it never leaves it). It asks for what the
 * certificate must carry — critical basicConstraints CA:TRUE pathLen 0 and critical keyUsage keyCertSign, cRLSign
 * — so `openssl x509 -req -copy_extensions copy` or any CA honouring requested extensions issues it as is.
 */
export async function createCaCsr(subject: SubjectFields, signer: Signer): Promise<Buffer> {
  const ext = (id: string, value: Buffer) => sequence(oid(id), boolean(true), octetString(value));
  const extensions = sequence(ext(BASIC_CONSTRAINTS, sequence(boolean(true), smallInteger(0))), ext(KEY_USAGE, namedBits(CA_KEY_USAGE)));
  const info = sequence(smallInteger(0), encodeSubject(subject), signer.spki, tlv(0xa0, sequence(oid(EXTENSION_REQUEST), set(extensions))));
  return sequence(info, SIGNATURE_ALGORITHM_DER[signer.algorithm], bitString(await signer.sign(info)));
}

export interface ExternalCaInput {
  /** the CA certificate the customer's CA issued */
  certDer: Buffer;
  /** the customer's chain above it, issuer first, ending with their self-signed root */
  chainDer: readonly Buffer[];
  /** our key's SubjectPublicKeyInfo, and the subject we requested */
  spki: Buffer;
  subject: SubjectFields;
  /** the EKU OID of the leaves it will issue (its profile's): any EKU on the CA or above must allow it */
  leafEku: string;
  now: Date;
}

export interface CheckedExternalCa {
  notBefore: Date;
  notAfter: Date;
  serialHex: string;
  /** the certificate's subject as text */
  subject: string;
  /** the customer's chain, issuer first, root last (as given, duplicates and strays removed) */
  chainDer: Buffer[];
  /** SHA-256 of the customer's root certificate (hex), for staff to confirm out of band */
  rootSha256: string;
}

const refuse = (code: string, message: string): never => {
  throw new PkiError(code, message, 400);
};

/** Checks a customer-signed CA certificate before it may issue; throws PkiError (400) with the reason. */
export async function checkExternalCa(input: ExternalCaInput): Promise<CheckedExternalCa> {
  const read = (der: Buffer, what: string) => {
    try {
      return readCertificate(der);
    } catch {
      return refuse("external_ca_malformed", `${what} is not a DER X.509 certificate`);
    }
  };
  const cert = read(input.certDer, "the CA certificate");
  for (const [i, c] of input.chainDer.entries()) read(c, `certificate ${i + 1} of the chain`);
  if (!cert.spki.equals(input.spki)) refuse("external_ca_key_mismatch", "the CA certificate is not for the key of this request");
  if (!cert.subject.equals(encodeSubject(input.subject)))
    refuse("external_ca_subject_mismatch", "the CA certificate's subject is not the requested one (issue it with the CSR's subject)");
  if (input.chainDer.length === 0) refuse("external_ca_chain_incomplete", "the chain up to your root CA is missing");
  const root = input.chainDer[input.chainDer.length - 1];
  const rootCert = new X509Certificate(root);
  if (!rootCert.checkIssued(rootCert) || !rootCert.verify(rootCert.publicKey))
    refuse("external_ca_chain_incomplete", "the chain must end with your self-signed root CA certificate");

  const requiredEku = (Object.keys(EKU_OIDS) as RequiredEku[]).find((k) => EKU_OIDS[k] === input.leafEku);
  if (!requiredEku) throw new RangeError(`no path check for the EKU ${input.leafEku}`);
  checkStrength([input.certDer, ...input.chainDer], root);
  let path: Awaited<ReturnType<typeof validatePath>>;
  try {
    path = await validatePath({
      leafDer: input.certDer,
      presented: input.chainDer.slice(0, -1),
      trustedRoot: root,
      now: input.now,
      leafIsCa: true,
      requiredEku,
    });
  } catch (e) {
    // the same codes as the device listener's, as a refused request (400) rather than a refused client (403)
    if (isPkiError(e)) throw new PkiError(e.code, e.message, 400);
    throw e;
  }
  // what SPEC §2 asks of an issuing CA, and RFC 5280 §4.2.1.2/§4.2.1.9 of any CA
  if (!cert.extensions.find((e) => e.oid === BASIC_CONSTRAINTS)?.critical)
    refuse("external_ca_constraints", "the CA certificate's basicConstraints must be critical");
  if (cert.pathLen !== 0)
    refuse("external_ca_constraints", "the CA certificate must have pathLen 0: it issues end-entity certificates only");
  if (!cert.ski) refuse("external_ca_ski_missing", "the CA certificate has no subjectKeyIdentifier (RFC 5280 §4.2.1.2)");
  // a CA that cannot outlive one leaf's first day is a mistake, not a configuration
  if (cert.notAfter.getTime() - input.now.getTime() < 24 * 3600 * 1000)
    refuse("external_ca_validity", "the CA certificate expires within a day");
  // leaves are cut to the CA's end: the CA must not outlive what it chains to, or they would outlive it too
  const chainDer = path.chainDer.slice(1);
  for (const c of chainDer)
    if (readCertificate(c).notAfter < cert.notAfter)
      refuse("external_ca_validity", `the CA certificate outlives ${new X509Certificate(c).subject.replace(/\n/g, ", ")} above it`);
  return {
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serialHex: path.leaf.serialHex,
    subject: formatName(subjectAttributes(input.subject)),
    chainDer,
    rootSha256: customerRoot(chainDer).sha256,
  };
}

/** The root a customer-supplied chain (issuer first) ends at: its subject and SHA-256, as the customer can check it. */
export function customerRoot(chainDer: readonly Buffer[]): { subject: string; sha256: string } {
  const root = new X509Certificate(chainDer[chainDer.length - 1]);
  return { subject: root.subject.replace(/\n/g, ", "), sha256: root.fingerprint256.replace(/:/g, "").toLowerCase() };
}

/** Signature algorithms a certificate of the imported path may be signed with (a root's self-signature aside). */
const STRONG_SIGNATURES = new Set([
  "1.2.840.10045.4.3.2", // ecdsa-with-SHA256
  "1.2.840.10045.4.3.3", // ecdsa-with-SHA384
  "1.2.840.10045.4.3.4", // ecdsa-with-SHA512
  "1.2.840.113549.1.1.11", // sha256WithRSAEncryption
  "1.2.840.113549.1.1.12", // sha384WithRSAEncryption
  "1.2.840.113549.1.1.13", // sha512WithRSAEncryption
  "1.2.840.113549.1.1.10", // RSASSA-PSS
  "1.3.101.112", // Ed25519
]);
const STRONG_CURVES = new Set(["prime256v1", "secp384r1", "secp521r1"]);

/** No SHA-1 or MD5 signature below the root, no RSA key under 2048 bits, no curve but P-256/384/521 or Ed25519. */
function checkStrength(path: readonly Buffer[], root: Buffer): void {
  for (const der of path) {
    const fields = readCertificate(der);
    const alg = decodeOid(
      contentOf(fields.signatureAlgorithm, children(fields.signatureAlgorithm, readTlv(fields.signatureAlgorithm, 0))[0]),
    );
    const name = new X509Certificate(der).subject.replace(/\n/g, ", ");
    if (der !== root && !STRONG_SIGNATURES.has(alg))
      refuse("external_ca_weak_signature", `${name} is signed with ${alg}, which is not accepted`);
    const key = new X509Certificate(der).publicKey;
    const d = key.asymmetricKeyDetails;
    const ok =
      key.asymmetricKeyType === "ed25519" ||
      (key.asymmetricKeyType === "ec" && STRONG_CURVES.has(d?.namedCurve ?? "")) ||
      ((key.asymmetricKeyType === "rsa" || key.asymmetricKeyType === "rsa-pss") && (d?.modulusLength ?? 0) >= 2048);
    if (!ok) refuse("external_ca_weak_key", `${name} has a key that is not accepted (RSA under 2048 bits, or an unsupported curve)`);
  }
}
