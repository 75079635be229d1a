// PKCS#10 certificate requests: decode (PEM, DER or bare base64), walk the DER, enforce the §2 leaf key
// policy and verify the self-signature with node:crypto. Nothing here decides what gets issued: the profile
// (profiles.ts) looks at the parsed request and the pipeline (certificate.ts) copies only key and device id.
//
// Error codes (all PkiError, status 400 unless noted):
//   csr_too_large                        input over 64 KiB (413)
//   csr_malformed                        not PEM/DER/base64, wrong PEM label, bad DER, trailing bytes,
//                                        version ≠ 1, duplicate extensions, undecodable names
//   csr_signature_algorithm_unsupported  SHA-1, MD5, unknown OIDs, PSS with SHA-1/mismatched MGF, alg ≠ key type
//   csr_invalid_signature                the self-signature does not verify
//   csr_weak_key                         RSA < 2048 or > 4096 bits, RSA e ≠ 65537
//   csr_unsupported_key                  any curve but P-256/P-384, explicit EC parameters, Ed448, DSA, …
//   csr_invalid_key                      a supported key type whose bits do not decode (point not on curve)
//   csr_device_id_missing                (requireDeviceId) neither serialNumber nor CN in the subject
//   csr_device_id_invalid                (requireDeviceId) fails ^[A-Za-z0-9.:-]{1,64}$
//   csr_device_id_ambiguous              (requireDeviceId) several serialNumber (or, without one, several CN)
import { constants, createHash, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import {
  bitString,
  bitStringBytes,
  boolean,
  bytesOf,
  children,
  contentOf,
  type Der,
  DerError,
  decodeOid,
  decodeString,
  expectTlv,
  octetString,
  oid,
  sequence,
  set,
  smallInteger,
  TAG,
  type Tlv,
  tlv,
} from "./der.ts";
import { isPkiError, PkiError } from "./errors.ts";
import {
  DEVICE_ID_PATTERN,
  encodeName,
  formatIp,
  formatName,
  type GeneralName,
  type NameAttribute,
  OID_CN,
  OID_SERIAL_NUMBER,
  shortName,
} from "./names.ts";

export const MAX_CSR_BYTES = 64 * 1024;

export const OID = {
  ecPublicKey: "1.2.840.10045.2.1",
  p256: "1.2.840.10045.3.1.7",
  p384: "1.3.132.0.34",
  ed25519: "1.3.101.112",
  rsaEncryption: "1.2.840.113549.1.1.1",
  rsaPss: "1.2.840.113549.1.1.10",
  mgf1: "1.2.840.113549.1.1.8",
  extensionRequest: "1.2.840.113549.1.9.14",
  challengePassword: "1.2.840.113549.1.9.7",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
} as const;

export type PublicKeyType = "ec" | "ed25519" | "rsa";

export interface CsrPublicKey {
  /** DER SubjectPublicKeyInfo, copied verbatim into the certificate. */
  spki: Buffer;
  /** The subjectPublicKey BIT STRING bytes (the input of the RFC 5280 method-1 key identifier). */
  subjectPublicKey: Buffer;
  type: PublicKeyType;
  curve?: "P-256" | "P-384";
  /** RSA modulus size in bits. */
  bits?: number;
}

export interface CsrAttribute {
  oid: string;
  /** Short name (CN, O, serialNumber, …) or the dotted OID when we have none. */
  name: string;
  value: string;
}

export interface RequestedExtension {
  oid: string;
  critical: boolean;
  /** Contents of extnValue (the DER of the extension's own value). */
  value: Buffer;
}

export interface ParsedCsr {
  der: Buffer;
  subject: CsrAttribute[];
  /** RFC 4514-style text of the requested subject, for logs. */
  subjectText: string;
  publicKey: CsrPublicKey;
  /** Lowercase hex SHA-256 of the SPKI DER: the key's identity across certificates. */
  spkiSha256: string;
  extensions: RequestedExtension[];
  /** General names of a requested subjectAltName extension (empty when none). */
  sans: GeneralName[];
  /** Requested basicConstraints, when the request carries one. */
  basicConstraints?: { ca: boolean; pathLen?: number };
  challengePassword?: string;
  /** Candidate device id: the subject's serialNumber, else its CN. Not yet checked: see requireDeviceId. */
  deviceId?: string;
}

const malformed = (why: string) => new PkiError("csr_malformed", `malformed certificate request: ${why}`);

/** Decode, walk, check the key policy and verify the self-signature. Throws PkiError on any refusal. */
export function parseCsr(input: string | Uint8Array): ParsedCsr {
  const der = decodeInput(input);
  try {
    return parseDer(der);
  } catch (e) {
    if (e instanceof DerError || e instanceof RangeError || e instanceof TypeError) throw malformed(e.message);
    throw e;
  }
}

// ---- input armour ---------------------------------------------------------------------------------

const PEM_BLOCK = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END ([A-Z0-9 ]+)-----$/;
const PEM_LABELS = new Set(["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"]);

function decodeInput(input: string | Uint8Array): Buffer {
  if (input.length > MAX_CSR_BYTES * 2) throw tooLarge();
  if (typeof input !== "string") {
    if (input.length > 0 && input[0] === TAG.SEQUENCE) return checkedSize(Buffer.from(input));
    input = Buffer.from(input.buffer, input.byteOffset, input.length).toString("latin1");
  }
  if (input.length > MAX_CSR_BYTES) throw tooLarge();
  const text = input.trim();
  if (text.length === 0) throw malformed("empty input");
  let body = text;
  if (text.startsWith("-----")) {
    const m = PEM_BLOCK.exec(text);
    if (!m || m[1] !== m[3]) throw malformed("not a single PEM block");
    if (!PEM_LABELS.has(m[1])) throw malformed(`expected a CERTIFICATE REQUEST PEM block, got ${m[1]}`);
    body = m[2];
  }
  // RFC 8951 / RFC 7468: base64 with line breaks (and stray whitespace) allowed, nothing else.
  const b64 = body.replace(/[\r\n\t ]/g, "");
  if (b64.length === 0 || b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw malformed("invalid base64");
  return checkedSize(Buffer.from(b64, "base64"));
}

function checkedSize(der: Buffer): Buffer {
  if (der.length > MAX_CSR_BYTES) throw tooLarge();
  return der;
}

const tooLarge = () => new PkiError("csr_too_large", `certificate request larger than ${MAX_CSR_BYTES} bytes`, 413);

// ---- DER walk ---------------------------------------------------------------------------------------

function parseDer(der: Buffer): ParsedCsr {
  const outer = expectTlv(der, 0, TAG.SEQUENCE);
  if (outer.end !== der.length) throw malformed("trailing bytes after the request");
  const [info, sigAlg, sig, ...extra] = children(der, outer);
  if (!sig || extra.length) throw malformed("CertificationRequest must have three fields");
  if (info.tag !== TAG.SEQUENCE || sigAlg.tag !== TAG.SEQUENCE) throw malformed("bad CertificationRequest");

  const [version, subject, spki, attrs, ...rest] = children(der, info);
  if (!spki || rest.length) throw malformed("bad CertificationRequestInfo");
  if (version.tag !== TAG.INTEGER || version.end - version.contentStart !== 1 || der[version.contentStart] !== 0) {
    throw malformed("unsupported version");
  }
  if (subject.tag !== TAG.SEQUENCE || spki.tag !== TAG.SEQUENCE) throw malformed("bad subject or key");
  if (attrs && attrs.tag !== 0xa0) throw malformed("bad attributes");

  const sentKey = parsePublicKey(der, spki);
  const keyObject = importKey(sentKey);
  verifySignature(der, bytesOf(der, info), sigAlg, bitStringBytes(der, sig), sentKey.type, keyObject);
  const publicKey = canonicalKey(sentKey, keyObject);

  const subjectAttrs = parseName(der, subject);
  const attributes = attrs ? parseAttributes(der, attrs) : { extensions: [] };
  const extensions = attributes.extensions;
  const sanExt = extensions.find((e) => e.oid === OID.subjectAltName);
  const bcExt = extensions.find((e) => e.oid === OID.basicConstraints);

  return {
    der,
    subject: subjectAttrs,
    subjectText: formatName(subjectAttrs),
    publicKey,
    spkiSha256: sha256Hex(publicKey.spki),
    extensions,
    sans: sanExt ? parseGeneralNames(sanExt.value) : [],
    basicConstraints: bcExt ? parseBasicConstraints(bcExt.value) : undefined,
    challengePassword: attributes.challengePassword,
    deviceId: deviceIdCandidate(subjectAttrs),
  };
}

const CURVES: Record<string, "P-256" | "P-384"> = { [OID.p256]: "P-256", [OID.p384]: "P-384" };
/** Named so that a refusal says what was sent. */
const KNOWN_UNSUPPORTED: Record<string, string> = {
  "1.3.132.0.35": "P-521",
  "1.3.132.0.10": "secp256k1",
  "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
  "1.3.101.113": "Ed448",
  "1.3.101.110": "X25519",
  "1.3.101.111": "X448",
  "1.2.840.10040.4.1": "DSA",
  [OID.rsaPss]: "RSASSA-PSS key",
};

function parsePublicKey(der: Buffer, spki: Tlv): CsrPublicKey {
  const [algId, bits, ...rest] = children(der, spki);
  if (!bits || rest.length || algId.tag !== TAG.SEQUENCE) throw malformed("bad SubjectPublicKeyInfo");
  const [algOidTlv, params, ...more] = children(der, algId);
  if (more.length) throw malformed("bad AlgorithmIdentifier");
  const algOid = decodeOid(contentOf(der, expectTlv(der, algOidTlv.start, TAG.OID)));
  const subjectPublicKey = bitStringBytes(der, bits);
  const base = { spki: Buffer.from(bytesOf(der, spki)), subjectPublicKey };
  const unsupported = (what: string) => new PkiError("csr_unsupported_key", `key type not accepted: ${what}`);

  switch (algOid) {
    case OID.ecPublicKey: {
      if (!params || params.tag !== TAG.OID) throw unsupported("EC key without a named curve");
      const curveOid = decodeOid(contentOf(der, params));
      const curve = CURVES[curveOid];
      if (!curve) throw unsupported(`curve ${KNOWN_UNSUPPORTED[curveOid] ?? curveOid}`);
      return { ...base, type: "ec", curve };
    }
    case OID.ed25519:
      if (params) throw malformed("Ed25519 key with parameters");
      return { ...base, type: "ed25519" };
    case OID.rsaEncryption: {
      if (params && !(params.tag === TAG.NULL && params.end === params.contentStart)) throw malformed("RSA key parameters must be NULL");
      const { bits: size, exponent } = rsaKeySize(subjectPublicKey);
      if (size < 2048 || size > 4096) throw new PkiError("csr_weak_key", `RSA keys must have 2048 to 4096 bits, got ${size}`);
      if (exponent !== "010001") throw new PkiError("csr_weak_key", "RSA public exponent must be 65537");
      return { ...base, type: "rsa", bits: size };
    }
    default:
      throw unsupported(KNOWN_UNSUPPORTED[algOid] ?? algOid);
  }
}

/** RSAPublicKey { modulus, publicExponent } as unsigned magnitudes. */
function rsaPublicKey(bits: Buffer): { n: Buffer; e: Buffer } {
  const seq = expectTlv(bits, 0, TAG.SEQUENCE);
  const [n, e, ...rest] = children(bits, seq);
  if (!e || rest.length || n.tag !== TAG.INTEGER || e.tag !== TAG.INTEGER || bits[n.contentStart] & 0x80)
    throw malformed("bad RSA public key");
  const magnitude = (t: Tlv) => {
    let at = t.contentStart;
    while (at < t.end - 1 && bits[at] === 0) at++;
    return bits.subarray(at, t.end);
  };
  return { n: magnitude(n), e: magnitude(e) };
}

function rsaKeySize(bits: Buffer): { bits: number; exponent: string } {
  const { n, e } = rsaPublicKey(bits);
  return { bits: rsaModulusBits(n), exponent: e.toString("hex") };
}

/**
 * The size in bits of an RSA modulus given as big-endian octets, counted on its magnitude: leading zero
 * octets (a DER sign octet, a padded JWK `n`) do not count. The one size check of CSR and JWK keys.
 */
export function rsaModulusBits(n: Uint8Array): number {
  let at = 0;
  while (at < n.length && n[at] === 0) at++;
  return at === n.length ? 0 : (n.length - at - 1) * 8 + (32 - Math.clz32(n[at]));
}

/**
 * The key as a KeyObject for verification. Imported through JWK where possible: OpenSSL 3's DER decoder
 * costs ~150 µs per key, the JWK path a fraction of that, and it still refuses points that are not on the
 * curve. Compressed EC points take the DER path.
 */
function importKey(key: CsrPublicKey): KeyObject {
  const b64 = (b: Buffer) => b.toString("base64url");
  const bits = key.subjectPublicKey;
  try {
    const size = key.curve === "P-256" ? 32 : 48;
    if (key.type === "ec" && bits.length === 1 + 2 * size && bits[0] === 0x04) {
      const jwk = { kty: "EC", crv: key.curve, x: b64(bits.subarray(1, 1 + size)), y: b64(bits.subarray(1 + size)) };
      return createPublicKey({ key: jwk, format: "jwk" });
    }
    if (key.type === "ed25519") {
      if (bits.length !== 32) throw new Error("bad Ed25519 key length");
      return createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: b64(bits) }, format: "jwk" });
    }
    if (key.type === "rsa") {
      const { n, e } = rsaPublicKey(bits);
      return createPublicKey({ key: { kty: "RSA", n: b64(n), e: b64(e) }, format: "jwk" });
    }
    return createPublicKey({ key: key.spki, format: "der", type: "spki" });
  } catch {
    throw new PkiError("csr_invalid_key", "the public key does not decode (invalid point or modulus)");
  }
}

const sha256Hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/**
 * The fingerprint `parseCsr` gives a key (`spkiSha256`), for a key read elsewhere (a manufacturer's device
 * certificate): its SubjectPublicKeyInfo re-encoded canonically first, so comparing it with a request's key
 * does not depend on how either was encoded. A key no request may carry keeps the hash of its encoding as sent.
 */
export function keyFingerprint(spki: Uint8Array): string {
  const der = Buffer.from(spki);
  try {
    const key = parsePublicKey(der, expectTlv(der, 0, TAG.SEQUENCE));
    return sha256Hex(canonicalKey(key, importKey(key)).spki);
  } catch {
    return sha256Hex(der);
  }
}

/**
 * One key, one encoding: a compressed EC point or a non-canonical RSA key (absent parameters, padded integers)
 * is re-encoded the way standard tools write it, so its fingerprint (`spkiSha256`: key newness, SPEC §5) and
 * the issued certificate are the same whichever encoding the request used. Uncompressed EC points and Ed25519
 * keys are canonical already and cost nothing here.
 */
function canonicalKey(key: CsrPublicKey, keyObject: KeyObject): CsrPublicKey {
  const bits = key.subjectPublicKey;
  if (key.type === "ed25519") return key;
  let spki: Buffer;
  if (key.type === "ec") {
    if (bits[0] === 0x04 && bits.length === 1 + 2 * (key.curve === "P-256" ? 32 : 48)) return key;
    // OpenSSL keeps a decoded key's compressed form on export: the uncompressed point from its JWK instead
    const { x, y } = keyObject.export({ format: "jwk" });
    const point = Buffer.concat([Buffer.from([0x04]), Buffer.from(x ?? "", "base64url"), Buffer.from(y ?? "", "base64url")]);
    spki = sequence(sequence(oid(OID.ecPublicKey), oid(key.curve === "P-256" ? OID.p256 : OID.p384)), bitString(point));
  } else {
    // imported from the modulus's and exponent's magnitudes: exported with NULL parameters and minimal integers
    spki = keyObject.export({ type: "spki", format: "der" });
  }
  return spki.equals(key.spki) ? key : parsePublicKey(spki, expectTlv(spki, 0, TAG.SEQUENCE));
}

// ---- signature ------------------------------------------------------------------------------------

type Hash = "sha256" | "sha384" | "sha512";
const SIGNATURE_ALGORITHMS: Record<string, { key: PublicKeyType; hash: Hash | null } | undefined> = {
  "1.2.840.10045.4.3.2": { key: "ec", hash: "sha256" },
  "1.2.840.10045.4.3.3": { key: "ec", hash: "sha384" },
  "1.2.840.10045.4.3.4": { key: "ec", hash: "sha512" },
  [OID.ed25519]: { key: "ed25519", hash: null },
  "1.2.840.113549.1.1.11": { key: "rsa", hash: "sha256" },
  "1.2.840.113549.1.1.12": { key: "rsa", hash: "sha384" },
  "1.2.840.113549.1.1.13": { key: "rsa", hash: "sha512" },
};
const HASH_OIDS: Record<string, Hash> = {
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

const unsupportedSig = (what: string) => new PkiError("csr_signature_algorithm_unsupported", `signature algorithm not accepted: ${what}`);

function verifySignature(der: Buffer, data: Buffer, sigAlg: Tlv, signature: Buffer, keyType: PublicKeyType, key: KeyObject): void {
  const [algOidTlv, params, ...more] = children(der, sigAlg);
  if (more.length || algOidTlv?.tag !== TAG.OID) throw malformed("bad signature AlgorithmIdentifier");
  const algOid = decodeOid(contentOf(der, algOidTlv));
  let check: () => boolean;
  if (algOid === OID.rsaPss) {
    if (keyType !== "rsa") throw unsupportedSig("RSASSA-PSS with a non-RSA key");
    const pss = parsePssParams(der, params);
    check = () => verify(pss.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }, signature);
  } else {
    const alg = SIGNATURE_ALGORITHMS[algOid];
    if (!alg) throw unsupportedSig(algOid);
    if (alg.key !== keyType) throw unsupportedSig(`${algOid} with a ${keyType} key`);
    const paramsOk = !params || (alg.key === "rsa" && params.tag === TAG.NULL && params.end === params.contentStart);
    if (!paramsOk) throw malformed("unexpected signature algorithm parameters");
    check = () => verify(alg.hash, data, key, signature);
  }
  // OpenSSL throws instead of returning false for some garbage (e.g. an impossible PSS salt length).
  let ok = false;
  try {
    ok = check();
  } catch {
    ok = false;
  }
  if (!ok) throw new PkiError("csr_invalid_signature", "the certificate request's self-signature does not verify");
}

/** RSASSA-PSS-params (RFC 4055): we require SHA-2 with MGF1 over the same hash; the SHA-1 defaults are refused. */
function parsePssParams(der: Buffer, params: Tlv | undefined): { hash: Hash; saltLength: number } {
  if (!params || params.tag !== TAG.SEQUENCE) throw unsupportedSig("RSASSA-PSS with default (SHA-1) parameters");
  let hash: Hash | undefined;
  let mgfHash: Hash | undefined;
  let saltLength = 20;
  const hashOf = (algId: Tlv) => {
    const [o] = children(der, expectTlv(der, algId.start, TAG.SEQUENCE));
    return HASH_OIDS[decodeOid(contentOf(der, expectTlv(der, o.start, TAG.OID)))];
  };
  for (const field of children(der, params)) {
    const [inner] = children(der, field);
    if (field.tag === 0xa0) hash = hashOf(inner);
    else if (field.tag === 0xa1) {
      const [mgfOid, mgfParams] = children(der, expectTlv(der, inner.start, TAG.SEQUENCE));
      if (decodeOid(contentOf(der, mgfOid)) !== OID.mgf1 || !mgfParams) throw unsupportedSig("PSS mask generation other than MGF1");
      mgfHash = hashOf(mgfParams);
    } else if (field.tag === 0xa2) saltLength = readSmallInt(der, inner);
    else if (field.tag === 0xa3) {
      if (readSmallInt(der, inner) !== 1) throw unsupportedSig("PSS trailer field");
    } else throw malformed("bad RSASSA-PSS parameters");
  }
  if (!hash || hash !== mgfHash) throw unsupportedSig("RSASSA-PSS must use SHA-2 with MGF1 over the same hash");
  return { hash, saltLength };
}

function readSmallInt(der: Buffer, t: Tlv): number {
  if (t.tag !== TAG.INTEGER || t.end - t.contentStart > 4 || der[t.contentStart] & 0x80) throw malformed("bad INTEGER");
  let v = 0;
  for (let i = t.contentStart; i < t.end; i++) v = v * 256 + der[i];
  return v;
}

// ---- names, attributes, extensions ----------------------------------------------------------------

/**
 * Flattens a Name into its attributes in encoding order (multi-valued RDNs kept in order); with `only`, just the
 * attributes of those types (the others' values are not decoded).
 */
export function parseName(der: Buffer, name: Tlv, only?: ReadonlySet<string>): CsrAttribute[] {
  const out: CsrAttribute[] = [];
  for (const rdn of children(der, name)) {
    if (rdn.tag !== TAG.SET || rdn.end === rdn.contentStart) throw malformed("bad RDN");
    for (const atv of children(der, rdn)) {
      const [typeTlv, valueTlv, ...rest] = children(der, expectTlv(der, atv.start, TAG.SEQUENCE, rdn.end));
      if (!valueTlv || rest.length || typeTlv.tag !== TAG.OID) throw malformed("bad AttributeTypeAndValue");
      const attrOid = decodeOid(contentOf(der, typeTlv));
      if (only && !only.has(attrOid)) continue;
      out.push({ oid: attrOid, name: shortName(attrOid), value: decodeString(der, valueTlv) });
    }
  }
  return out;
}

function parseAttributes(der: Buffer, attrs: Tlv): { extensions: RequestedExtension[]; challengePassword?: string } {
  let extensions: RequestedExtension[] | undefined;
  let challengePassword: string | undefined;
  for (const attr of children(der, attrs)) {
    const [typeTlv, values, ...rest] = children(der, expectTlv(der, attr.start, TAG.SEQUENCE, attrs.end));
    if (!values || rest.length || typeTlv.tag !== TAG.OID || values.tag !== TAG.SET) throw malformed("bad attribute");
    const attrOid = decodeOid(contentOf(der, typeTlv));
    const [value, ...others] = children(der, values);
    if (attrOid === OID.extensionRequest) {
      if (extensions || !value || others.length) throw malformed("extensionRequest must appear once with one value");
      extensions = parseExtensions(der, expectTlv(der, value.start, TAG.SEQUENCE));
    } else if (attrOid === OID.challengePassword) {
      if (challengePassword !== undefined || !value || others.length) throw malformed("challengePassword must appear once with one value");
      challengePassword = decodeString(der, value);
    }
  }
  return { extensions: extensions ?? [], challengePassword };
}

function parseExtensions(der: Buffer, seq: Tlv): RequestedExtension[] {
  const seen = new Set<string>();
  return children(der, seq).map((ext) => {
    const parts = children(der, expectTlv(der, ext.start, TAG.SEQUENCE, seq.end));
    const oidTlv = parts[0];
    let critical = false;
    let valueTlv = parts[1];
    if (parts.length === 3) {
      const b = parts[1];
      if (b.tag !== TAG.BOOLEAN || b.end - b.contentStart !== 1 || (der[b.contentStart] !== 0 && der[b.contentStart] !== 0xff)) {
        throw malformed("bad extension critical flag");
      }
      critical = der[b.contentStart] === 0xff;
      valueTlv = parts[2];
    } else if (parts.length !== 2) throw malformed("bad extension");
    if (oidTlv.tag !== TAG.OID || valueTlv.tag !== TAG.OCTET_STRING) throw malformed("bad extension");
    const extOid = decodeOid(contentOf(der, oidTlv));
    if (seen.has(extOid)) throw malformed(`extension ${extOid} requested twice`);
    seen.add(extOid);
    return { oid: extOid, critical, value: Buffer.from(contentOf(der, valueTlv)) };
  });
}

/** GeneralNames (RFC 5280 §4.2.1.6) from a subjectAltName extension value. */
export function parseGeneralNames(value: Buffer): GeneralName[] {
  const seq = expectTlv(value, 0, TAG.SEQUENCE);
  if (seq.end !== value.length) throw malformed("trailing bytes in subjectAltName");
  return children(value, seq).map((g): GeneralName => {
    const text = () => contentOf(value, g).toString("latin1");
    switch (g.tag) {
      case 0x81:
        return { type: "email", value: text() };
      case 0x82:
        return { type: "dns", value: text() };
      case 0x86:
        return { type: "uri", value: text() };
      case 0x87:
        return { type: "ip", value: formatIp(contentOf(value, g)) };
      case 0xa4: {
        const [name, ...rest] = children(value, g);
        if (!name || rest.length) throw malformed("bad directoryName");
        return { type: "dirName", attributes: parseName(value, expectTlv(value, name.start, TAG.SEQUENCE, g.end)) };
      }
      default:
        return { type: "other", tag: g.tag & 0x1f };
    }
  });
}

function parseBasicConstraints(value: Buffer): { ca: boolean; pathLen?: number } {
  const seq = expectTlv(value, 0, TAG.SEQUENCE);
  let ca = false;
  let pathLen: number | undefined;
  for (const t of children(value, seq)) {
    if (t.tag === TAG.BOOLEAN) ca = value[t.contentStart] !== 0;
    else if (t.tag === TAG.INTEGER) pathLen = readSmallInt(value, t);
    else throw malformed("bad basicConstraints");
  }
  return { ca, pathLen };
}

// ---- device id ------------------------------------------------------------------------------------

function deviceIdCandidate(subject: CsrAttribute[]): string | undefined {
  return (subject.find((a) => a.oid === OID_SERIAL_NUMBER) ?? subject.find((a) => a.oid === OID_CN))?.value;
}

/**
 * The device id of §3: the subject's serialNumber, else its CN; exactly one candidate; must match
 * ^[A-Za-z0-9.:-]{1,64}$ (PrintableString has no `_`).
 */
export function requireDeviceId(csr: Pick<ParsedCsr, "subject">): string {
  const serials = csr.subject.filter((a) => a.oid === OID_SERIAL_NUMBER);
  const candidates = serials.length ? serials : csr.subject.filter((a) => a.oid === OID_CN);
  if (candidates.length === 0)
    throw new PkiError("csr_device_id_missing", "the request's subject has no serialNumber or CN (the device id)");
  if (candidates.length > 1) throw new PkiError("csr_device_id_ambiguous", "the request's subject names more than one device id");
  return checkDeviceId(candidates[0].value);
}

const DEVICE_ID_ATTRIBUTES: ReadonlySet<string> = new Set([OID_SERIAL_NUMBER, OID_CN]);

/**
 * The device id a certificate made elsewhere (a manufacturer's) names in its subject, by requireDeviceId's rule;
 * null when it names none we can read. Only serialNumber and CN are decoded: the maker's other attributes (a
 * BIT STRING x500UniqueIdentifier, characters its string type does not allow) are not ours to judge.
 */
export function subjectDeviceId(subject: Buffer): string | null {
  try {
    return requireDeviceId({ subject: parseName(subject, expectTlv(subject, 0, TAG.SEQUENCE), DEVICE_ID_ATTRIBUTES) });
  } catch (e) {
    if (isPkiError(e) || e instanceof DerError || e instanceof RangeError || e instanceof TypeError) return null;
    throw e;
  }
}

/** Checks a device id against the §3 pattern (also used for ids that come from an authenticating certificate). */
export function checkDeviceId(id: string): string {
  if (!DEVICE_ID_PATTERN.test(id)) throw new PkiError("csr_device_id_invalid", "device id must match ^[A-Za-z0-9.:-]{1,64}$");
  return id;
}

// ---- building requests (benchmarks, tests, device simulators) ------------------------------------

export interface CsrSpec {
  /** The requester's private key: P-256/P-384 (ECDSA SHA-256/384), Ed25519, or RSA (PKCS#1 v1.5 SHA-256). */
  key: KeyObject;
  /** Subject attributes (one per RDN) or a ready Name DER. Default: CN=dev-001. */
  subject?: readonly NameAttribute[] | Buffer;
  extensions?: readonly { oid: string; critical?: boolean; value: Buffer }[];
  /** Raw Attribute DERs added after the extensionRequest. */
  attributes?: readonly Buffer[];
  // Overrides that only hostile-input tests use: they produce requests parseCsr must refuse.
  version?: number;
  signatureAlgorithm?: Buffer;
  spki?: Buffer;
  signature?: (sig: Buffer) => Buffer;
}

const CSR_SIGNATURE = {
  "P-256": { alg: "300a06082a8648ce3d040302", hash: "sha256" },
  "P-384": { alg: "300a06082a8648ce3d040303", hash: "sha384" },
  ed25519: { alg: "300506032b6570", hash: null },
  rsa: { alg: "300d06092a864886f70d01010b0500", hash: "sha256" },
} as const;

/** A DER PKCS#10 request signed with `spec.key`. */
export function createCsr(spec: CsrSpec): Der {
  const key = spec.key;
  const spki = spec.spki ?? createPublicKey(key).export({ type: "spki", format: "der" });
  const subject = Buffer.isBuffer(spec.subject)
    ? spec.subject
    : encodeName(spec.subject ?? [{ oid: OID_CN, value: "dev-001", encoding: "utf8" }]);
  const attrs: Buffer[] = [];
  if (spec.extensions?.length) {
    const exts = spec.extensions.map((e) => sequence(oid(e.oid), ...(e.critical ? [boolean(true)] : []), octetString(e.value)));
    attrs.push(sequence(oid(OID.extensionRequest), set(sequence(...exts))));
  }
  attrs.push(...(spec.attributes ?? []));
  const info = sequence(smallInteger(spec.version ?? 0), subject, spki, tlv(0xa0, ...attrs));
  const kind =
    key.asymmetricKeyType === "ed25519"
      ? CSR_SIGNATURE.ed25519
      : key.asymmetricKeyType === "rsa"
        ? CSR_SIGNATURE.rsa
        : key.asymmetricKeyDetails?.namedCurve === "secp384r1"
          ? CSR_SIGNATURE["P-384"]
          : CSR_SIGNATURE["P-256"];
  let signature: Buffer = sign(kind.hash, info, key);
  if (spec.signature) signature = spec.signature(signature);
  return sequence(info, spec.signatureAlgorithm ?? Buffer.from(kind.alg, "hex"), bitString(signature));
}
