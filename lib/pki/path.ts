// Certification path validation for the device API's authorizer (SPEC §5; RFC 5280 §6, the parts we use).
// @peculiar/x509's verify() checks only signature and dates and its chain builder only links certificates
// (STYLE habit 2): CA flag, key usage, path length, EKU, name chaining and revocation are checked here.
//
// Error codes (PkiError, status 403):
//   cert_malformed                 a certificate does not parse
//   chain_too_long                 more than MAX_PRESENTED certificates sent, or no path within MAX_PATH_LENGTH
//   chain_untrusted                no path from the leaf to the trusted root (compared byte for byte)
//   name_chaining                  an issuer DN differs from the subject DN of the certificate above it
//   chain_signature_invalid        a certificate's signature does not verify with its issuer's key
//   cert_expired / cert_not_yet_valid   any certificate in the path, the root included
//   ca_flag_missing                an issuer lacks basicConstraints CA:TRUE
//   ca_key_usage_missing           an issuer lacks keyUsage keyCertSign
//   path_length_exceeded           more CAs below an issuer than its pathLenConstraint allows
//   leaf_is_ca                     the end-entity certificate is a CA
//   unsupported_critical_extension a critical extension this validator does not process (RFC 5280 §4.2)
//   eku_missing                    the leaf, or a CA in the path, has an EKU without the required purpose
//   cert_revoked                   isRevoked() says so for the leaf or a CA
import { X509Certificate as NodeX509Certificate } from "node:crypto";
import { AsnConvert } from "@peculiar/asn1-schema";
import * as asn1X509 from "@peculiar/asn1-x509";
import { type CertificateFields, readCertificate } from "./certificate.ts";
import * as der from "./der.ts";
import { PkiError } from "./errors.ts";
import { x509 } from "./x509.ts";

/** Leaf, CAs and root: our deepest hierarchy is 4; customer-supplied parents may add a level or two. */
export const MAX_PATH_LENGTH = 6;
/** A client sends its intermediates; more than this is not a real chain. */
export const MAX_PRESENTED = 10;
/** Path building explores at most this many partial paths (presented certificates are attacker-chosen). */
const MAX_SEARCH_STEPS = 200;
/** The largest RSA key a chain may carry: the largest a request may (SPEC §7). */
const MAX_RSA_BITS = 4096;
/** Signature verifications one path search may run (a path has at most MAX_PATH_LENGTH − 1 links). */
const MAX_SIGNATURE_CHECKS = 4 * MAX_PATH_LENGTH;

const OID = {
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyId: "2.5.29.14",
  authorityKeyId: "2.5.29.35",
  uid: "0.9.2342.19200300.100.1.1",
} as const;

export const EKU_OIDS = {
  clientAuth: "1.3.6.1.5.5.7.3.2",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  documentSigning: "1.3.6.1.5.5.7.3.36",
} as const;
export type RequiredEku = keyof typeof EKU_OIDS;

/** The critical extensions this validator processes; any other critical extension fails the path. */
const UNDERSTOOD_EXTENSIONS = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyId,
  OID.authorityKeyId,
]);

const DEVICE_URI_PREFIX = "urn:pss:device:";

export interface ValidatePathInput {
  leafDer: Uint8Array;
  /** the intermediates the client sent (in any order; extra certificates are ignored) */
  presented?: readonly Uint8Array[];
  /** the TLS Root CA certificate: the path must end at exactly these bytes */
  trustedRoot: Uint8Array;
  /** our CA certificates, to complete a path the client sent partially; pass the same Buffers each call to reuse parsing */
  knownCas?: readonly Uint8Array[];
  now: Date;
  requiredEku?: RequiredEku;
  /**
   * The certificate under validation is a CA that will issue leaves (a customer-supplied application CA being
   * imported): it must be a CA with keyCertSign and cRLSign, and every path length above it counts it.
   */
  leafIsCa?: boolean;
  /** revocation lookup, asked for the leaf and every CA below the root */
  isRevoked?: (certDer: Buffer, issuerDer: Buffer) => Promise<boolean> | boolean;
}

export interface LeafInfo {
  /** lowercase hex without leading zeros (SPEC §3) */
  serialHex: string;
  issuerSerialHex: string;
  issuerDer: Buffer;
  /** the UID attribute inside the SAN directoryName */
  uid?: string;
  /** from a SAN URI urn:pss:device:<id> */
  deviceId?: string;
  notAfter: Date;
}

export interface ValidatedPath {
  /** leaf first, trusted root last */
  chain: x509.X509Certificate[];
  chainDer: Buffer[];
  leaf: LeafInfo;
}

interface ParsedCert {
  der: Buffer;
  fields: CertificateFields;
  authorityKeyId?: Buffer;
  node?: NodeX509Certificate;
  /** whether this certificate's signature verifies under each issuer tried: each pair is checked once */
  signedBy?: Map<ParsedCert, boolean>;
}

const fail = (code: string, message: string): never => {
  throw new PkiError(code, message, 403);
};

/** Validates the path and returns it, or throws a PkiError with one of the codes above. */
export async function validatePath(input: ValidatePathInput): Promise<ValidatedPath> {
  const presented = input.presented ?? [];
  if (presented.length > MAX_PRESENTED) fail("chain_too_long", `at most ${MAX_PRESENTED} intermediate certificates are accepted`);

  const leaf = parse(input.leafDer);
  const root = parse(input.trustedRoot);
  // The root first so it wins over any look-alike; duplicates (a client resending our CA) collapse.
  const pool = dedupe([root, ...(input.knownCas ?? []).map(parse), ...presented.map(parse)]);

  const path = findPath(leaf, pool, root.der);
  if (input.leafIsCa) caLeafPaths.add(path);
  checkLinks(path);
  checkValidity(path, input.now);
  checkCaConstraints(path, input.leafIsCa ?? false);
  checkCriticalExtensions(path);
  if (input.requiredEku) checkEku(path, input.requiredEku);
  if (input.isRevoked) await checkRevocation(path, input.isRevoked);

  return {
    chain: path.map((c) => new x509.X509Certificate(new Uint8Array(c.der))),
    chainDer: path.map((c) => c.der),
    leaf: leafInfo(path),
  };
}

// ---- parsing ------------------------------------------------------------------------------------------

// Our CA certificates come in as the same Buffers on every request: parse each once.
const parsedCache = new WeakMap<Uint8Array, ParsedCert>();

function parse(certDer: Uint8Array): ParsedCert {
  const cached = parsedCache.get(certDer);
  if (cached) return cached;
  const buf = Buffer.from(certDer);
  let parsed: ParsedCert;
  try {
    const fields = readCertificate(buf);
    parsed = { der: buf, fields, authorityKeyId: authorityKeyId(fields) };
  } catch {
    return fail("cert_malformed", "a certificate in the chain cannot be parsed");
  }
  parsedCache.set(certDer, parsed);
  return parsed;
}

/** AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING OPTIONAL, … } */
function authorityKeyId(fields: CertificateFields): Buffer | undefined {
  const ext = fields.extensions.find((e) => e.oid === OID.authorityKeyId);
  if (!ext) return undefined;
  const keyId = der.children(ext.value, der.expectTlv(ext.value, 0, der.TAG.SEQUENCE)).find((t) => t.tag === 0x80);
  return keyId ? Buffer.from(der.contentOf(ext.value, keyId)) : undefined;
}

function dedupe(certs: ParsedCert[]): ParsedCert[] {
  const seen = new Set<string>();
  return certs.filter((c) => {
    const key = c.der.toString("base64");
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

// ---- path building ------------------------------------------------------------------------------------

/**
 * Depth-first search from the leaf to the trusted root. First only over links whose signature verifies; if
 * that finds nothing, once more over links that merely match by key id or name, so the error can say what is
 * wrong with the closest path (bad signature, swapped issuer name) rather than just "untrusted".
 */
function findPath(leaf: ParsedCert, pool: ParsedCert[], rootDer: Buffer): ParsedCert[] {
  let tooLong = false;
  // a real chain needs one verification per link; look-alike certificates get no more than this many
  let verifications = 0;
  const verifies = (child: ParsedCert, issuer: ParsedCert) =>
    child.signedBy?.has(issuer) || ++verifications <= MAX_SIGNATURE_CHECKS ? signedBy(child, issuer) : false;
  const search = (requireSignature: boolean): ParsedCert[] | undefined => {
    let steps = 0;
    const extend = (path: ParsedCert[]): ParsedCert[] | undefined => {
      const last = path[path.length - 1];
      if (last.der.equals(rootDer)) return path;
      if (path.length >= MAX_PATH_LENGTH) {
        tooLong = true;
        return undefined;
      }
      for (const candidate of issuerCandidates(last, pool)) {
        if (++steps > MAX_SEARCH_STEPS) return undefined;
        if (path.includes(candidate)) continue;
        if (requireSignature && !verifies(last, candidate)) continue;
        const found = extend([...path, candidate]);
        if (found) return found;
      }
      return undefined;
    };
    return extend([leaf]);
  };
  const path = search(true) ?? search(false);
  if (path) return path;
  if (tooLong) return fail("chain_too_long", `no path to the trusted root within ${MAX_PATH_LENGTH} certificates`);
  return fail("chain_untrusted", "the certificate does not chain to the trusted root");
}

/**
 * Possible issuers of `cert`: linked by key identifier (AKI = SKI) when both sides carry one, otherwise by
 * name. Linking by key id lets a swapped issuer DN surface as name_chaining instead of an anonymous failure.
 */
function issuerCandidates(cert: ParsedCert, pool: ParsedCert[]): ParsedCert[] {
  const byKeyId = (c: ParsedCert) => cert.authorityKeyId && c.fields.ski && cert.authorityKeyId.equals(c.fields.ski);
  const byName = (c: ParsedCert) => c.fields.subject.equals(cert.fields.issuer);
  return pool.filter((c) => (cert.authorityKeyId && c.fields.ski ? byKeyId(c) : byName(c)));
}

function nodeCert(c: ParsedCert): NodeX509Certificate {
  c.node ??= new NodeX509Certificate(c.der);
  return c.node;
}

/**
 * Whether `issuer`'s key signed `child`, each pair verified once (the search meets the same links again and
 * again when a client sends look-alike certificates). A key stronger than anything we issue or accept (RSA over
 * 4096 bits) signs nothing here: a client would otherwise make every request cost hundreds of milliseconds of
 * RSA-16384 verifications.
 */
function signedBy(child: ParsedCert, issuer: ParsedCert): boolean {
  child.signedBy ??= new Map();
  let ok = child.signedBy.get(issuer);
  if (ok === undefined) {
    try {
      const key = nodeCert(issuer).publicKey;
      ok = (key.asymmetricKeyDetails?.modulusLength ?? 0) <= MAX_RSA_BITS && nodeCert(child).verify(key);
    } catch {
      ok = false;
    }
    child.signedBy.set(issuer, ok);
  }
  return ok;
}

// ---- checks on the chosen path ------------------------------------------------------------------------

/** Paths whose first certificate is a CA under validation (`leafIsCa`), for the wording of errors. */
const caLeafPaths = new WeakSet<ParsedCert[]>();

const which = (i: number, path: ParsedCert[]) =>
  i === 0
    ? caLeafPaths.has(path)
      ? "the CA certificate"
      : "the client certificate"
    : i === path.length - 1
      ? "the root CA certificate"
      : `CA certificate ${i} of the chain`;

function checkLinks(path: ParsedCert[]): void {
  for (let i = 0; i + 1 < path.length; i++) {
    if (!path[i].fields.issuer.equals(path[i + 1].fields.subject)) {
      fail("name_chaining", `the issuer name of ${which(i, path)} does not match the subject of its issuer`);
    }
    if (!signedBy(path[i], path[i + 1])) fail("chain_signature_invalid", `the signature of ${which(i, path)} does not verify`);
  }
  // The root is the trust anchor: its self-signature adds nothing, its bytes were compared.
}

function checkValidity(path: ParsedCert[], now: Date): void {
  path.forEach((c, i) => {
    if (now > c.fields.notAfter) fail("cert_expired", `${which(i, path)} has expired`);
    if (now < c.fields.notBefore) fail("cert_not_yet_valid", `${which(i, path)} is not yet valid`);
  });
}

const KEY_CERT_SIGN_MASK = 0x80 >> 5; // KeyUsage bit 5, in the first byte
const CRL_SIGN_MASK = 0x80 >> 6; // bit 6

function checkCaConstraints(path: ParsedCert[], leafIsCa: boolean): void {
  if (leafIsCa) {
    const ca = path[0].fields;
    if (!ca.ca) fail("ca_flag_missing", "the CA certificate is not a CA (basicConstraints CA:TRUE missing)");
    if (!ca.keyUsageBits || !(ca.keyUsageBits[0] & KEY_CERT_SIGN_MASK) || !(ca.keyUsageBits[0] & CRL_SIGN_MASK))
      fail("ca_key_usage_missing", "the CA certificate must allow keyCertSign and cRLSign (it signs certificates and CRLs)");
  }
  // a CA leaf counts among the CAs below each issuer: the leaves it signs come after it
  const below = leafIsCa ? 0 : 1;
  for (let i = 1; i < path.length; i++) {
    const ca = path[i].fields;
    if (!ca.ca) fail("ca_flag_missing", `${which(i, path)} is not a CA (basicConstraints CA:TRUE missing)`);
    // RFC 5280 §4.2.1.3: a key that signs certificates must assert keyCertSign; an absent keyUsage is refused too.
    if (!ca.keyUsageBits || !(ca.keyUsageBits[0] & KEY_CERT_SIGN_MASK)) {
      fail("ca_key_usage_missing", `${which(i, path)} may not sign certificates (keyUsage keyCertSign missing)`);
    }
    // The CAs between this one and the leaf (i - 1 of them) must fit its pathLenConstraint.
    if (ca.pathLen !== undefined && i - below > ca.pathLen)
      fail("path_length_exceeded", `${which(i, path)} allows ${ca.pathLen} CAs below it`);
  }
  if (!leafIsCa && path[0].fields.ca) fail("leaf_is_ca", "the client certificate is a CA certificate");
}

function checkCriticalExtensions(path: ParsedCert[]): void {
  path.forEach((c, i) => {
    const unknown = c.fields.extensions.find((e) => e.critical && !UNDERSTOOD_EXTENSIONS.has(e.oid));
    if (unknown) fail("unsupported_critical_extension", `${which(i, path)} has an unsupported critical extension ${unknown.oid}`);
  });
}

/**
 * The leaf's EKU, when present, must list the purpose; so must the EKU of any CA that has one (what OpenSSL
 * and Node enforce, SPEC §2). anyExtendedKeyUsage is not accepted in place of the purpose.
 */
function checkEku(path: ParsedCert[], required: RequiredEku): void {
  path.forEach((c, i) => {
    const ext = c.fields.extensions.find((e) => e.oid === OID.extKeyUsage);
    if (!ext) return;
    const purposes = parseExtension(ext.value, asn1X509.ExtendedKeyUsage, i, path);
    if (!purposes.includes(EKU_OIDS[required])) fail("eku_missing", `${which(i, path)} is not valid for ${required}`);
  });
}

async function checkRevocation(path: ParsedCert[], isRevoked: NonNullable<ValidatePathInput["isRevoked"]>): Promise<void> {
  const below = path.slice(0, -1); // everything but the trust anchor
  const revoked = await Promise.all(below.map((c, i) => isRevoked(c.der, path[i + 1].der)));
  const first = revoked.indexOf(true);
  if (first >= 0) fail("cert_revoked", `${which(first, path)} has been revoked`);
}

// ---- what the authorizer needs from the leaf ----------------------------------------------------------

function leafInfo(path: ParsedCert[]): LeafInfo {
  const [leaf, issuer] = path;
  const info: LeafInfo = {
    serialHex: serialHex(leaf.fields.serial),
    issuerSerialHex: serialHex(issuer?.fields.serial ?? leaf.fields.serial),
    issuerDer: (issuer ?? leaf).der,
    notAfter: leaf.fields.notAfter,
  };
  const san = leaf.fields.extensions.find((e) => e.oid === OID.subjectAltName);
  if (!san) return info;
  for (const name of parseExtension(san.value, asn1X509.SubjectAlternativeName, 0, path)) {
    if (name.directoryName && info.uid === undefined) info.uid = uidOf(name.directoryName);
    const uri = name.uniformResourceIdentifier;
    if (uri?.startsWith(DEVICE_URI_PREFIX) && info.deviceId === undefined) info.deviceId = uri.slice(DEVICE_URI_PREFIX.length);
  }
  return info;
}

function uidOf(name: asn1X509.Name): string | undefined {
  for (const rdn of name) {
    for (const atv of rdn) {
      if (atv.type === OID.uid) return atv.value.toString();
    }
  }
  return undefined;
}

function serialHex(content: Buffer): string {
  return content.toString("hex").replace(/^0+(?=.)/, "");
}

function parseExtension<T>(value: Buffer, type: new () => T, i: number, path: ParsedCert[]): T {
  try {
    return AsnConvert.parse(value, type);
  } catch {
    return fail("cert_malformed", `an extension of ${which(i, path)} cannot be parsed`);
  }
}
