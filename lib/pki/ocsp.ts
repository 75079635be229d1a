// RFC 6960 OCSP responder core: parse a request (POST body or GET path segment), look each CertID up through
// callbacks, and sign a BasicOCSPResponse. No I/O here; the HTTP route and the database sit behind the callbacks.
// Requests come from anyone on the internet, so parsing is strict, bounded, and never throws to the caller.
import { createHash } from "node:crypto";
import { extension, REVOCATION_REASONS, type RevocationReason, readIssuerCertificate, reasonCode } from "./crl.ts";
import * as der from "./der.ts";
import { SIGNATURE_ALGORITHM_DER, type Signer } from "./signer.ts";

const OID_SHA1 = "1.3.14.3.2.26";
const OID_SHA256 = "2.16.840.1.101.3.4.2.1";
const OID_NONCE = "1.3.6.1.5.5.7.48.1.2";
const OID_BASIC_RESPONSE = "1.3.6.1.5.5.7.48.1.1";
const TAG_ENUMERATED = 0x0a;

/** Bounds on untrusted input: RFC 6960 requests are a few hundred bytes; browsers send one CertID. */
export const OCSP_LIMITS = { maxRequestBytes: 64 * 1024, maxCertIds: 20, maxNonceBytes: 128 } as const;

/** How long a response may be cached (nextUpdate − thisUpdate). CRLs are reissued every 12 h for 24 h; same here. */
export const OCSP_RESPONSE_VALIDITY_MS = 24 * 60 * 60 * 1000;

export type OcspHashAlgorithm = "sha1" | "sha256";

export const OCSP_RESPONSE_STATUS = {
  successful: 0,
  malformedRequest: 1,
  internalError: 2,
  tryLater: 3,
  sigRequired: 5,
  unauthorized: 6,
} as const;
export type OcspResponseStatus = keyof typeof OCSP_RESPONSE_STATUS;

export interface OcspCertId {
  hashAlgorithm: OcspHashAlgorithm;
  /** lowercase hex of the hash of the issuer's subject Name DER */
  issuerNameHash: string;
  /** lowercase hex of the hash of the issuer's subjectPublicKey bits */
  issuerKeyHash: string;
  /** serial in the stored form: lowercase hex without leading zeros */
  serialHex: string;
  /** the CertID exactly as received, echoed in the SingleResponse so clients can match it */
  der: Buffer;
}

export interface OcspRequest {
  certIds: OcspCertId[];
  /** the nonce extension's extnValue as received, echoed verbatim */
  nonce?: Buffer;
}

/** A request we can answer, or the finished error response to send back instead. */
export type ParsedOcspRequest = { ok: true; request: OcspRequest } | { ok: false; status: OcspResponseStatus; response: Buffer };

// ---- issuer hashes ----------------------------------------------------------------------------------

export interface IssuerHashes {
  issuerNameHash: string;
  issuerKeyHash: string;
}

/** The CertID hashes of a CA certificate under SHA-1 and SHA-256, for indexing CAs by what requests carry. */
export function ocspIssuerHashes(caCertDer: Uint8Array): Record<OcspHashAlgorithm, IssuerHashes> {
  const { subject, spki } = readIssuerCertificate(caCertDer);
  const publicKey = subjectPublicKeyBits(spki);
  const hashes = (alg: OcspHashAlgorithm) => ({ issuerNameHash: hexHash(alg, subject), issuerKeyHash: hexHash(alg, publicKey) });
  return { sha1: hashes("sha1"), sha256: hashes("sha256") };
}

/** Whether a CertID names this CA as issuer (for in-memory lookups; a database would index ocspIssuerHashes). */
export function certIdMatchesIssuer(certId: OcspCertId, caCertDer: Uint8Array): boolean {
  const h = ocspIssuerHashes(caCertDer)[certId.hashAlgorithm];
  return h.issuerNameHash === certId.issuerNameHash && h.issuerKeyHash === certId.issuerKeyHash;
}

/** The subjectPublicKey BIT STRING value of a SubjectPublicKeyInfo: what CertID key hashes and responderID cover. */
function subjectPublicKeyBits(spki: Buffer): Buffer {
  const [, keyBits] = der.children(spki, der.expectTlv(spki, 0, der.TAG.SEQUENCE));
  return der.bitStringBytes(spki, keyBits);
}

function hexHash(alg: OcspHashAlgorithm, data: Uint8Array): string {
  return createHash(alg).update(data).digest("hex");
}

// ---- parsing ------------------------------------------------------------------------------------------

/** Parses a DER OCSPRequest (POST body, application/ocsp-request). */
export function parseOcspRequest(body: Uint8Array): ParsedOcspRequest {
  if (body.length === 0 || body.length > OCSP_LIMITS.maxRequestBytes) return failure("malformedRequest");
  try {
    return readOcspRequest(body);
  } catch {
    // A DerError or an out-of-range read anywhere in the structure: the request is malformed, full stop.
    return failure("malformedRequest");
  }
}

/**
 * Parses the GET form (RFC 6960 A.1): `GET {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}`.
 * `pathSegment` is everything after the responder URL's slash, still URL-encoded. Both base64 alphabets are
 * accepted because clients differ (OpenSSL URL-encodes standard base64, some send base64url).
 */
export function parseOcspGet(pathSegment: string): ParsedOcspRequest {
  if (pathSegment.length > (OCSP_LIMITS.maxRequestBytes * 4) / 3 + 64) return failure("malformedRequest");
  let b64: string;
  try {
    b64 = decodeURIComponent(pathSegment);
  } catch {
    return failure("malformedRequest");
  }
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64)) return failure("malformedRequest");
  return parseOcspRequest(Buffer.from(b64, "base64")); // Node's base64 decoder reads both alphabets
}

function readOcspRequest(buf: Uint8Array): ParsedOcspRequest {
  const outer = der.expectTlv(buf, 0, der.TAG.SEQUENCE);
  if (outer.end !== buf.length) return failure("malformedRequest"); // trailing bytes
  // tbsRequest, then an optional [0] signature we do not require (RFC 6960 §4.1.2) and therefore ignore.
  const [tbs, signature, ...rest] = der.children(buf, outer);
  if (!tbs || tbs.tag !== der.TAG.SEQUENCE || rest.length > 0 || (signature && signature.tag !== 0xa0)) return failure("malformedRequest");

  const fields = der.children(buf, tbs);
  let i = 0;
  if (fields[i]?.tag === 0xa0) {
    const version = der.expectTlv(buf, fields[i].contentStart, der.TAG.INTEGER, fields[i].end);
    if (der.contentOf(buf, version).toString("hex") !== "00") return failure("malformedRequest");
    i++;
  }
  if (fields[i]?.tag === 0xa1) i++; // requestorName: informational only
  const list = fields[i++];
  if (!list || list.tag !== der.TAG.SEQUENCE) return failure("malformedRequest");
  const requestExtensions = fields[i]?.tag === 0xa2 ? fields[i++] : undefined;
  if (i !== fields.length) return failure("malformedRequest");

  const requests = der.children(buf, list);
  if (requests.length === 0 || requests.length > OCSP_LIMITS.maxCertIds) return failure("malformedRequest");
  const certIds: OcspCertId[] = [];
  for (const request of requests) {
    const certId = readRequest(buf, request);
    if (certId === "unsupported") return failure("unauthorized");
    certIds.push(certId);
  }

  let nonce: Buffer | undefined;
  if (requestExtensions) {
    const extensions = der.expectTlv(buf, requestExtensions.contentStart, der.TAG.SEQUENCE, requestExtensions.end);
    for (const ext of readExtensions(buf, extensions)) {
      if (ext.oid === OID_NONCE) {
        // RFC 8954 §2.1: nonces longer than 128 octets MUST be refused as malformed. The extension's value is
        // the nonce's OCTET STRING (whose header is 2 or 3 octets); a client that sent bare octets is measured as such.
        if (nonceLength(ext.value) > OCSP_LIMITS.maxNonceBytes) return failure("malformedRequest");
        nonce = Buffer.from(ext.value);
      } else if (ext.critical) {
        return failure("malformedRequest"); // a critical extension we do not understand
      }
    }
  }
  return { ok: true, request: { certIds, nonce } };
}

/** Request ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL } */
function readRequest(buf: Uint8Array, request: der.Tlv): OcspCertId | "unsupported" {
  if (request.tag !== der.TAG.SEQUENCE) throw new der.DerError("Request is not a SEQUENCE");
  const [certId, singleExtensions, ...rest] = der.children(buf, request);
  if (!certId || rest.length > 0 || (singleExtensions && singleExtensions.tag !== 0xa0)) throw new der.DerError("bad Request");
  if (certId.tag !== der.TAG.SEQUENCE) throw new der.DerError("CertID is not a SEQUENCE");

  const [algorithm, nameHash, keyHash, serial, ...extra] = der.children(buf, certId);
  if (!serial || extra.length > 0) throw new der.DerError("bad CertID");
  const hashAlgorithm = readHashAlgorithm(buf, algorithm);
  if (nameHash.tag !== der.TAG.OCTET_STRING || keyHash.tag !== der.TAG.OCTET_STRING || serial.tag !== der.TAG.INTEGER) {
    throw new der.DerError("bad CertID field types");
  }
  if (!hashAlgorithm) return "unsupported";
  const hashLength = hashAlgorithm === "sha1" ? 20 : 32;
  const issuerNameHash = der.contentOf(buf, nameHash);
  const issuerKeyHash = der.contentOf(buf, keyHash);
  if (issuerNameHash.length !== hashLength || issuerKeyHash.length !== hashLength) throw new der.DerError("hash length mismatch");
  const serialBytes = der.contentOf(buf, serial);
  if (serialBytes.length === 0 || serialBytes.length > 32) throw new der.DerError("bad serial");
  return {
    hashAlgorithm,
    issuerNameHash: issuerNameHash.toString("hex"),
    issuerKeyHash: issuerKeyHash.toString("hex"),
    // A negative serial (high bit set) keeps its two's-complement bytes: it matches nothing we issued → unknown.
    serialHex: serialBytes.toString("hex").replace(/^0+(?=.)/, ""),
    der: Buffer.from(der.bytesOf(buf, certId)),
  };
}

/** AlgorithmIdentifier of the CertID hash; parameters may be NULL or absent (RFC 5754 §2). */
function readHashAlgorithm(buf: Uint8Array, algorithm: der.Tlv | undefined): OcspHashAlgorithm | undefined {
  if (!algorithm || algorithm.tag !== der.TAG.SEQUENCE) throw new der.DerError("bad hashAlgorithm");
  const [oid, params, ...extra] = der.children(buf, algorithm);
  if (!oid || oid.tag !== der.TAG.OID || extra.length > 0) throw new der.DerError("bad hashAlgorithm");
  if (params && (params.tag !== der.TAG.NULL || params.end !== params.contentStart)) throw new der.DerError("bad hash parameters");
  const dotted = der.decodeOid(der.contentOf(buf, oid));
  return dotted === OID_SHA1 ? "sha1" : dotted === OID_SHA256 ? "sha256" : undefined;
}

function readExtensions(buf: Uint8Array, extensions: der.Tlv): { oid: string; critical: boolean; value: Buffer }[] {
  return der.children(buf, extensions).map((ext) => {
    const parts = der.children(buf, ext);
    if (parts.length < 2 || parts.length > 3 || parts[0].tag !== der.TAG.OID) throw new der.DerError("bad Extension");
    const value = parts[parts.length - 1];
    if (value.tag !== der.TAG.OCTET_STRING) throw new der.DerError("bad extnValue");
    const critical = parts.length === 3 && parts[1].tag === der.TAG.BOOLEAN && buf[parts[1].contentStart] !== 0;
    return { oid: der.decodeOid(der.contentOf(buf, parts[0])), critical, value: der.contentOf(buf, value) };
  });
}

// ---- responding ---------------------------------------------------------------------------------------

/** One of our CAs, as the lookup finds it; `responderCertDer` set when a delegated responder signs for it. */
export interface OcspIssuer {
  /** the CA certificate the CertIDs name */
  certDer: Uint8Array;
  /** signs the response: the CA key, or the delegated responder's key when `responderCertDer` is set */
  signer: Signer;
  /** a responder certificate issued by this CA (EKU OCSPSigning, ocsp-nocheck); included in `certs` */
  responderCertDer?: Uint8Array;
}

export type CertStatus = { status: "good" } | { status: "revoked"; revokedAt: Date; reason?: RevocationReason } | { status: "unknown" };

export interface RespondOcspOptions<I extends OcspIssuer> {
  /**
   * The CA the CertID names (match name hash + key hash under certId.hashAlgorithm), or null if not ours. Called
   * once per request, for its first CertID: the others must name the same CA, which is checked against its
   * certificate in memory.
   */
  findIssuer(certId: OcspCertId): I | null | Promise<I | null>;
  /**
   * Statuses of serials under that CA, called once per request with its distinct serials (at most
   * OCSP_LIMITS.maxCertIds): one batched look-up, not one per CertID. A serial left out of the map is "unknown"
   * (never issued by this CA).
   */
  statuses(issuer: I, serialHexes: readonly string[]): ReadonlyMap<string, CertStatus> | Promise<ReadonlyMap<string, CertStatus>>;
  now: Date;
  /** defaults to OCSP_RESPONSE_VALIDITY_MS */
  validityMs?: number;
  /** called with unexpected errors (database down, signer failure) before answering internalError */
  onError?(error: unknown): void;
}

/**
 * Answers a parsed request. Never throws: a lookup or signing failure becomes `internalError`, a CertID that
 * names a CA that is not ours becomes `unauthorized`. One signature covers the whole response, so every CertID
 * in a request must name the same CA of ours. The callbacks run once each, whatever the number of CertIDs: an
 * unauthenticated request costs a bounded number of look-ups.
 */
export async function respondOcsp<I extends OcspIssuer>(parsed: ParsedOcspRequest, options: RespondOcspOptions<I>): Promise<Buffer> {
  if (!parsed.ok) return parsed.response;
  try {
    const { certIds, nonce } = parsed.request;
    const issuer = await options.findIssuer(certIds[0]);
    if (!issuer) return errorResponse("unauthorized");
    // The CA's own hashes under both algorithms: a CertID matching them names the very CA findIssuer found
    // (key hashes are unique among our CAs), so no further look-up is needed.
    const hashes = ocspIssuerHashes(issuer.certDer);
    const sameIssuer = (c: OcspCertId) =>
      hashes[c.hashAlgorithm].issuerNameHash === c.issuerNameHash && hashes[c.hashAlgorithm].issuerKeyHash === c.issuerKeyHash;
    if (!certIds.every(sameIssuer)) return errorResponse("unauthorized");
    const found = await options.statuses(issuer, [...new Set(certIds.map((c) => c.serialHex))]);
    const statuses = certIds.map((c): CertStatus => found.get(c.serialHex) ?? { status: "unknown" });
    return await signResponse(issuer, certIds, statuses, nonce, options);
  } catch (error) {
    options.onError?.(error);
    return errorResponse("internalError");
  }
}

/** Parse and answer in one call: `body` for POST, a path segment string for GET. */
export async function handleOcsp<I extends OcspIssuer>(input: Uint8Array | string, options: RespondOcspOptions<I>): Promise<Buffer> {
  return respondOcsp(typeof input === "string" ? parseOcspGet(input) : parseOcspRequest(input), options);
}

async function signResponse(
  issuer: OcspIssuer,
  certIds: OcspCertId[],
  statuses: CertStatus[],
  nonce: Buffer | undefined,
  options: RespondOcspOptions<OcspIssuer>,
): Promise<Buffer> {
  const responderCertDer = issuer.responderCertDer ?? issuer.certDer;
  const responder = readIssuerCertificate(responderCertDer);
  if (!responder.spki.equals(issuer.signer.spki)) throw new Error("OCSP signer key does not match the responder certificate");

  const now = options.now;
  const nextUpdate = new Date(now.getTime() + (options.validityMs ?? OCSP_RESPONSE_VALIDITY_MS));
  const responses = certIds.map((certId, i) =>
    der.sequence(certId.der, certStatus(statuses[i]), der.generalizedTime(now), der.explicit(0, der.generalizedTime(nextUpdate))),
  );
  const responseData = der.sequence(
    // version v1 is the DEFAULT and therefore omitted; responderID byKey = SHA-1 of the responder's key bits
    der.explicit(2, der.octetString(createHash("sha1").update(subjectPublicKeyBits(responder.spki)).digest())),
    der.generalizedTime(now),
    der.sequence(...responses),
    ...(nonce ? [der.explicit(1, der.sequence(extension(OID_NONCE, nonce)))] : []),
  );
  const sigAlg = SIGNATURE_ALGORITHM_DER[issuer.signer.algorithm];
  const signature = await issuer.signer.sign(responseData);
  const basic = der.sequence(
    responseData,
    sigAlg,
    der.bitString(signature),
    ...(issuer.responderCertDer ? [der.explicit(0, der.sequence(issuer.responderCertDer))] : []),
  );
  return der.sequence(
    der.tlv(TAG_ENUMERATED, Buffer.from([OCSP_RESPONSE_STATUS.successful])),
    der.explicit(0, der.sequence(der.oid(OID_BASIC_RESPONSE), der.octetString(basic))),
  );
}

/** CertStatus ::= CHOICE { good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2] IMPLICIT NULL } */
function certStatus(s: CertStatus): Buffer {
  switch (s.status) {
    case "good":
      return der.implicit(0, Buffer.alloc(0));
    case "unknown":
      return der.implicit(2, Buffer.alloc(0));
    case "revoked": {
      // unspecified is left out, as in the CRL (RFC 5280 §5.3.1)
      const code = s.reason ? REVOCATION_REASONS[s.reason] : undefined;
      const reason = code !== undefined && code !== REVOCATION_REASONS.unspecified ? [der.explicit(0, reasonCode(code))] : [];
      return der.implicit(1, Buffer.concat([der.generalizedTime(s.revokedAt), ...reason]), true);
    }
  }
}

/** The length of a nonce extension's value: its OCTET STRING's content, or the bare octets. */
function nonceLength(value: Uint8Array): number {
  try {
    const t = der.expectTlv(value, 0, der.TAG.OCTET_STRING);
    if (t.end === value.length) return t.end - t.contentStart;
  } catch {
    // not an OCTET STRING: bare octets
  }
  return value.length;
}

/** The responseStatus of an encoded OCSPResponse (its first field). */
export function ocspResponseStatus(response: Uint8Array): OcspResponseStatus {
  const outer = der.expectTlv(response, 0, der.TAG.SEQUENCE);
  const status = der.expectTlv(response, outer.contentStart, TAG_ENUMERATED, outer.end);
  const code = response[status.contentStart];
  const found = (Object.keys(OCSP_RESPONSE_STATUS) as OcspResponseStatus[]).find((k) => OCSP_RESPONSE_STATUS[k] === code);
  if (!found) throw new der.DerError(`unknown OCSP response status ${code}`);
  return found;
}

/** An unsigned OCSPResponse carrying only an error status (RFC 6960 §4.2.1: no responseBytes). */
export function errorResponse(status: Exclude<OcspResponseStatus, "successful">): Buffer {
  return der.sequence(der.tlv(TAG_ENUMERATED, Buffer.from([OCSP_RESPONSE_STATUS[status]])));
}

function failure(status: Exclude<OcspResponseStatus, "successful">): ParsedOcspRequest {
  return { ok: false, status, response: errorResponse(status) };
}
