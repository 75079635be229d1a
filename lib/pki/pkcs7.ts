// PKCS#7 / CMS "certs-only" messages (RFC 5652 SignedData with no signers, RFC 7030 §4.1.3 / §4.2.3): what
// EST answers with. Build one from DER certificates, and read the certificates back out (device SDK, tests).
import { children, contentOf, decodeOid, expectTlv, explicit, oid, sequence, set, smallInteger, TAG, tlv } from "./der.ts";
import { PkiError } from "./errors.ts";

const OID_SIGNED_DATA = "1.2.840.113549.1.7.2";
const OID_DATA = "1.2.840.113549.1.7.1";

/** DER ContentInfo { signedData { version 1, no digests, data with no content, certificates, no signers } }. */
export function certsOnly(certs: readonly Uint8Array[]): Buffer {
  const signedData = sequence(
    smallInteger(1),
    set(),
    sequence(oid(OID_DATA)),
    tlv(0xa0, ...certs), // certificates [0] IMPLICIT SET OF Certificate (kept in the given order: leaf first)
    set(),
  );
  return sequence(oid(OID_SIGNED_DATA), explicit(0, signedData));
}

/** The certificates of a certs-only message (DER, PEM-armoured or base64 with line breaks). */
export function readCertsOnly(input: string | Uint8Array): Buffer[] {
  let der: Buffer;
  if (typeof input === "string") {
    const body = input.replace(/-----(BEGIN|END) [A-Z0-9 ]+-----/g, "").replace(/\s+/g, "");
    der = Buffer.from(body, "base64");
  } else der = Buffer.from(input);
  try {
    const outer = expectTlv(der, 0, TAG.SEQUENCE);
    const [type, content] = children(der, outer);
    if (decodeOid(contentOf(der, type)) !== OID_SIGNED_DATA || content?.tag !== 0xa0) throw new Error("not SignedData");
    const sd = expectTlv(der, content.contentStart, TAG.SEQUENCE);
    const certs = children(der, sd).find((t) => t.tag === 0xa0);
    if (!certs) return [];
    return children(der, certs).map((t) => Buffer.from(der.subarray(t.start, t.end)));
  } catch {
    throw new PkiError("pkcs7_malformed", "not a PKCS#7 certs-only message");
  }
}
