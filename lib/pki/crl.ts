// RFC 5280 v2 CRLs, encoded by hand: a CA's CRL may hold 100k entries and is reissued on every revocation
// (SPEC §6), so entries go straight to DER without schema objects.
import { z } from "zod";
import { type CertificateFields, readCertificate } from "./certificate.ts";
import * as der from "./der.ts";
import { PkiError } from "./errors.ts";
import { normalizeSerial } from "./serial.ts";
import { SIGNATURE_ALGORITHM_DER, type Signer } from "./signer.ts";

/** RFC 5280 §5.3.1 CRLReason codes (7 is unused). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type RevocationReason = keyof typeof REVOCATION_REASONS;

/**
 * The reasons a revocation may record: every code but removeFromCRL (only for delta CRLs, RFC 5280 §5.3.1),
 * aACompromise (attribute certificates) and certificateHold: a hold promises relying parties a release, and
 * revocation here is final (a suspended device is decommissioned or its certificate revoked). The API, the CLI
 * and the portal all validate with this.
 */
export const revocationReasonSchema = z
  .enum(Object.keys(REVOCATION_REASONS) as [RevocationReason, ...RevocationReason[]])
  .exclude(["removeFromCRL", "aACompromise", "certificateHold"]);

const OID_AUTHORITY_KEY_ID = "2.5.29.35";
const OID_CRL_NUMBER = "2.5.29.20";
const OID_CRL_REASON = "2.5.29.21";
const TAG_ENUMERATED = 0x0a;

export interface CrlIssuer {
  /** the CA certificate whose key signs the CRL */
  certDer: Uint8Array;
  signer: Signer;
}

export interface RevokedEntry {
  /** serial as stored (lowercase hex); case and leading zeros are ignored */
  serialHex: string;
  revokedAt: Date;
  reason?: RevocationReason;
}

export interface BuildCrlInput {
  issuer: CrlIssuer;
  /** CRL number from the database sequence: monotonically increasing per CA */
  number: bigint;
  thisUpdate: Date;
  nextUpdate: Date;
  revoked: readonly RevokedEntry[];
}

/** Builds and signs a DER CRL. Throws PkiError on a programming or configuration error (wrong key, bad serial). */
export async function buildCrl({ issuer, number, thisUpdate, nextUpdate, revoked }: BuildCrlInput): Promise<Buffer> {
  if (nextUpdate <= thisUpdate) throw new PkiError("crl_invalid", "nextUpdate must be after thisUpdate", 500);
  // RFC 5280 §5.2.3: a non-negative INTEGER of at most 20 octets
  if (number < 0n || number >= 2n ** 159n) throw new PkiError("crl_invalid", "CRL number out of range", 500);

  const ca = readIssuerCertificate(issuer.certDer);
  if (!ca.spki.equals(issuer.signer.spki)) throw new PkiError("signer_mismatch", "the signer's key is not the CA certificate's key", 500);
  if (!ca.ski) throw new PkiError("ca_ski_missing", "the CA certificate has no subject key identifier", 500);

  const sigAlg = SIGNATURE_ALGORITHM_DER[issuer.signer.algorithm];
  const tbs = der.sequence(
    der.smallInteger(1), // v2: needed because the CRL carries extensions
    sigAlg,
    ca.subject, // byte for byte, so name matching in every client finds the issuer
    der.x509Time(thisUpdate),
    der.x509Time(nextUpdate),
    // An empty revokedCertificates must be omitted, not encoded as an empty SEQUENCE (RFC 5280 §5.1.2.6).
    ...(revoked.length > 0 ? [revokedCertificates(revoked)] : []),
    der.explicit(0, der.sequence(extension(OID_AUTHORITY_KEY_ID, authorityKeyId(ca.ski)), extension(OID_CRL_NUMBER, bigInteger(number)))),
  );
  const signature = await issuer.signer.sign(tbs);
  return der.sequence(tbs, sigAlg, der.bitString(signature));
}

/** SEQUENCE OF revoked entries; concatenated once instead of spreading 100k arguments. */
function revokedCertificates(entries: readonly RevokedEntry[]): Buffer {
  const encoded: Buffer[] = new Array(entries.length);
  for (let i = 0; i < entries.length; i++) encoded[i] = revokedEntry(entries[i]);
  return der.tlv(der.TAG.SEQUENCE, Buffer.concat(encoded));
}

function revokedEntry({ serialHex, revokedAt, reason }: RevokedEntry): Buffer {
  const serial = der.integer(hexMagnitude(normalizeSerial(serialHex)));
  const time = der.x509Time(revokedAt);
  // RFC 5280 §5.3.1: reasonCode unspecified SHOULD be absent rather than written out.
  if (reason === undefined || reason === "unspecified") return der.sequence(serial, time);
  const code = REVOCATION_REASONS[reason];
  if (code === undefined) throw new PkiError("crl_invalid", `unknown revocation reason: ${reason}`, 500);
  return der.sequence(serial, time, der.sequence(extension(OID_CRL_REASON, reasonCode(code))));
}

/** CRLReason ::= ENUMERATED; shared with the OCSP RevokedInfo encoding. */
export function reasonCode(code: number): Buffer {
  return der.tlv(TAG_ENUMERATED, Buffer.from([code]));
}

/** A non-critical Extension (critical is DEFAULT FALSE, so DER leaves it out). */
export function extension(oid: string, value: Uint8Array): Buffer {
  return der.sequence(der.oid(oid), der.octetString(value));
}

/** AuthorityKeyIdentifier with only keyIdentifier [0] IMPLICIT. */
function authorityKeyId(keyId: Uint8Array): Buffer {
  return der.sequence(der.implicit(0, keyId));
}

function bigInteger(n: bigint): Buffer {
  return der.integer(hexMagnitude(n.toString(16)));
}

function hexMagnitude(hex: string): Buffer {
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex");
}

/** The CA certificate's fields; a certificate we cannot read is a configuration error, not bad input. */
export function readIssuerCertificate(certDer: Uint8Array): CertificateFields {
  try {
    return readCertificate(Buffer.from(certDer));
  } catch (e) {
    if (e instanceof PkiError) throw e;
    throw new PkiError("ca_certificate_invalid", "cannot read the CA certificate", 500);
  }
}
