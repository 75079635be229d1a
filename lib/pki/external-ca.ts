// Application CAs under a customer-supplied parent (SPEC §2 — for C2PA, a CA on a trust list the customer
// already uses). The key stays in our key store: we hand out a CSR signed with it, the customer's CA signs a CA
// certificate for it, and before that certificate may issue anything it must prove it is the one we asked for
// (our key, our subject), a CA allowed to sign certificates and CRLs, valid now, and chain — signature by
// signature, with every CA constraint — to the self-signed root the customer supplies.
//
// Error codes (400): external_ca_malformed, external_ca_key_mismatch, external_ca_subject_mismatch,
// external_ca_chain_incomplete, external_ca_validity, and validatePath's own codes (chain_signature_invalid,
// ca_flag_missing, ca_key_usage_missing, path_length_exceeded, cert_expired, eku_missing, …).
import { X509Certificate } from "node:crypto";
import { encodeSubject, readCertificate } from "./certificate.ts";
import { bitString, boolean, namedBits, octetString, oid, sequence, set, smallInteger, tlv } from "./der.ts";
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
  // a CA that cannot outlive one leaf's first day is a mistake, not a configuration
  if (cert.notAfter.getTime() - input.now.getTime() < 24 * 3600 * 1000)
    refuse("external_ca_validity", "the CA certificate expires within a day");
  return {
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    serialHex: path.leaf.serialHex,
    subject: formatName(subjectAttributes(input.subject)),
    chainDer: path.chainDer.slice(1),
  };
}
