// THE issuance pipeline (STYLE habit 1): parse + verify the request → resolve the device id → run the
// profile's validators → build the TBSCertificate → check it → sign through the Signer. Pure: no database.
//
// Speed matters (§9 benchmark): everything that only depends on the issuer (its subject DER, the AKI, CRL DP
// and AIA extensions, the signature AlgorithmIdentifier) is encoded once per issuer and cached, and everything
// that only depends on the profile (basicConstraints, keyUsage, EKU) once per profile. Per certificate only
// serial, dates, subject, key, SKI and SAN are encoded.
//
// Error codes (besides the csr_* and profile_* codes of csr.ts / profiles.ts):
//   issuer_invalid                the issuer certificate does not parse
//   issuer_not_ca                 the issuer lacks basicConstraints CA:TRUE or keyUsage keyCertSign
//   issuer_path_length_exceeded   a CA certificate under an issuer with pathLen 0
//   issuer_key_mismatch           the signer's public key is not the issuer certificate's key (500)
//   issuer_expired                the issuer is expired (or expires before the certificate would start)
//   issuer_not_yet_valid          the issuer's notBefore is in the future
//   subject_too_long              a CN or O over 64 characters (onboarding should have refused the name)
//   ca_key_unsupported            a CA key other than P-256 (P-384 allowed for the root)
import { createHash, createPublicKey } from "node:crypto";
import { type ParsedCsr, parseCsr, parseGeneralNames } from "./csr.ts";
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
  decodeTime,
  expectTlv,
  explicit,
  ia5String,
  implicit,
  namedBits,
  nullValue,
  octetString,
  oid,
  sequence,
  smallInteger,
  TAG,
  tlv,
  toPem,
  x509Time,
} from "./der.ts";
import { PkiError } from "./errors.ts";
import { encodeGeneralNames, encodeName, formatName, MAX_NAME_LENGTH, OID_UID, type SubjectFields, subjectAttributes } from "./names.ts";
import {
  addValidity,
  type CaProfile,
  type CaProfileId,
  EXT,
  getCaProfile,
  getLeafProfile,
  KEY_USAGE,
  type KeyUsageName,
  type LeafProfile,
  type LeafProfileId,
  resolveDeviceId,
  subjectContext,
  validateRequest,
} from "./profiles.ts";
import { randomSerial, type Serial } from "./serial.ts";
import { SIGNATURE_ALGORITHM_DER, type Signer } from "./signer.ts";

export const BACKDATE_MS = 5 * 60 * 1000;

export interface Issuer {
  /** DER of the issuing CA's certificate. */
  certDer: Uint8Array;
  signer: Signer;
}

/** Where relying parties find revocation information for certificates of one issuer. */
export interface RevocationLocation {
  /** Base URL of the public HTTP endpoints, without trailing slash (plain http, §3). */
  publicUrl: string;
  /** The issuer's id: its CRL is `${publicUrl}/crl/${issuerId}.crl`. */
  issuerId: string;
  /** Optional AIA caIssuers URL of the issuer certificate. */
  caIssuersUrl?: string;
}

export interface IssueParams extends RevocationLocation {
  csr: ParsedCsr | string | Uint8Array;
  profile: LeafProfile | LeafProfileId;
  issuer: Issuer;
  /** The customer user's UID (required by customer profiles). */
  uid?: string;
  customerName: string;
  /** Subject prefix ("PSS" by default). */
  subjectPrefix?: string;
  /** A device id the caller vouches for (mTLS, manufacturing tool); the request must agree with it. */
  deviceId?: string;
  /** Server profile names. */
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  now?: Date;
  serial?: Serial;
}

export interface IssuedCertificate {
  der: Der;
  pem: string;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** RFC 4514-style subject text in encoding order ("O=…, CN=…, serialNumber=…"). */
  subject: string;
  spkiSha256: string;
  deviceId?: string;
  profile: string;
}

const isParsedCsr = (c: IssueParams["csr"]): c is ParsedCsr => typeof c === "object" && !(c instanceof Uint8Array);

/** Issues a leaf certificate. Throws PkiError on any refusal; the result is signed and complete. */
export async function issueCertificate(p: IssueParams): Promise<IssuedCertificate> {
  const csr = isParsedCsr(p.csr) ? p.csr : parseCsr(p.csr);
  const profile = typeof p.profile === "string" ? getLeafProfile(p.profile) : p.profile;
  const now = p.now ?? new Date();

  const deviceId = resolveDeviceId(profile, csr, p.deviceId);
  if (profile.uid === "required" && !p.uid)
    throw new PkiError("profile_uid_missing", `the ${profile.id} profile needs the customer user's UID`);
  const ctx = subjectContext({ ...p, prefix: p.subjectPrefix, deviceId });
  const sans = profile.sans(ctx);
  validateRequest(profile, { csr, deviceId, expectedDeviceId: p.deviceId, issuedSans: sans });

  const issuer = issuerInfo(p.issuer, p);
  const fields = profile.subject(ctx);
  const { notBefore, notAfter } = validityWindow(now, profile.validity, issuer);
  const serial = p.serial ?? randomSerial();
  const extensions = [
    ...leafProfileExtensions(profile),
    extension(EXT.subjectKeyIdentifier, false, octetString(keyIdentifier(csr.publicKey.subjectPublicKey))),
    issuer.akiExtension,
    extension(EXT.subjectAltName, false, encodeGeneralNames(sans)),
    issuer.revocationExtensions,
  ];
  const der = await signCertificate(p.issuer.signer, issuer, {
    serial,
    notBefore,
    notAfter,
    subject: encodeSubject(fields),
    spki: csr.publicKey.spki,
    extensions,
  });
  return {
    der,
    pem: toPem("CERTIFICATE", der),
    serialHex: serial.hex,
    notBefore,
    notAfter,
    subject: formatName(subjectAttributes(fields)),
    spkiSha256: csr.spkiSha256,
    deviceId,
    profile: profile.id,
  };
}

export interface IssueCaParams extends Partial<RevocationLocation> {
  profile: CaProfile | CaProfileId;
  subject: SubjectFields;
  /** The new CA's key: its Signer for a self-signed root, at least its SPKI otherwise. */
  subjectKey: Pick<Signer, "spki"> | Signer;
  /** The parent CA; omitted for the self-signed root. */
  issuer?: Issuer;
  now?: Date;
  serial?: Serial;
}

/** Issues a CA certificate (§2): the self-signed root, an intermediate or an issuing CA. */
export async function issueCaCertificate(p: IssueCaParams): Promise<IssuedCertificate> {
  const profile = typeof p.profile === "string" ? getCaProfile(p.profile) : p.profile;
  const now = p.now ?? new Date();
  checkCaKey(p.subjectKey.spki, profile);
  const subject = encodeSubject(p.subject);
  const keyId = keyIdentifier(subjectPublicKeyOf(p.subjectKey.spki));
  const serial = p.serial ?? randomSerial();

  let signer: Signer;
  let issuer: IssuerInfo;
  if (profile.selfSigned) {
    if (p.issuer) throw new RangeError(`the ${profile.id} profile is self-signed: no issuer`);
    if (!("sign" in p.subjectKey)) throw new RangeError("a self-signed CA needs its own Signer");
    signer = p.subjectKey;
    issuer = selfIssuer(signer, subject, keyId, now, profile);
  } else {
    if (!p.issuer || !p.publicUrl || !p.issuerId) throw new RangeError(`the ${profile.id} profile needs issuer, publicUrl and issuerId`);
    signer = p.issuer.signer;
    issuer = issuerInfo(p.issuer, { publicUrl: p.publicUrl, issuerId: p.issuerId, caIssuersUrl: p.caIssuersUrl });
    if (issuer.pathLen === 0) throw new PkiError("issuer_path_length_exceeded", "the issuer may not sign CA certificates (pathLen 0)");
  }
  const { notBefore, notAfter } = validityWindow(now, profile.validity, issuer);
  const extensions = [
    extension(
      EXT.basicConstraints,
      true,
      sequence(boolean(true), ...(profile.pathLen === undefined ? [] : [smallInteger(profile.pathLen)])),
    ),
    extension(EXT.keyUsage, true, namedBits([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
    extension(EXT.subjectKeyIdentifier, false, octetString(keyId)),
    issuer.akiExtension,
    issuer.revocationExtensions,
  ];
  const der = await signCertificate(signer, issuer, {
    serial,
    notBefore,
    notAfter,
    subject,
    spki: Buffer.from(p.subjectKey.spki),
    extensions,
  });
  return {
    der,
    pem: toPem("CERTIFICATE", der),
    serialHex: serial.hex,
    notBefore,
    notAfter,
    subject: formatName(subjectAttributes(p.subject)),
    spkiSha256: createHash("sha256").update(p.subjectKey.spki).digest("hex"),
    profile: profile.id,
  };
}

// ---- TBSCertificate and signature ---------------------------------------------------------------

const VERSION_V3 = Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]);

interface TbsParts {
  serial: Serial;
  notBefore: Date;
  notAfter: Date;
  subject: Buffer;
  spki: Buffer;
  extensions: Buffer[];
}

/** RFC 5280 §4.1: TBSCertificate, then Certificate = SEQUENCE { tbs, signatureAlgorithm, signature }. */
async function signCertificate(signer: Signer, issuer: IssuerInfo, t: TbsParts): Promise<Der> {
  const tbs = sequence(
    VERSION_V3,
    tlv(TAG.INTEGER, t.serial.der),
    issuer.signatureAlgorithm,
    issuer.subject,
    sequence(x509Time(t.notBefore), x509Time(t.notAfter)),
    t.subject,
    t.spki,
    explicit(3, sequence(...t.extensions.filter((e) => e.length > 0))),
  );
  const signature = await signer.sign(tbs);
  return sequence(tbs, issuer.signatureAlgorithm, bitString(signature));
}

/** notBefore = now − 5 min; notAfter = min(now + validity, issuer notAfter) (the §2 clamp); whole seconds. */
function validityWindow(now: Date, validity: LeafProfile["validity"], issuer: IssuerInfo): { notBefore: Date; notAfter: Date } {
  const seconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);
  if (issuer.notBefore.getTime() > now.getTime()) throw new PkiError("issuer_not_yet_valid", "the issuing CA is not valid yet", 503);
  const notBefore = seconds(now.getTime() - BACKDATE_MS);
  const notAfter = seconds(Math.min(addValidity(now, validity).getTime(), issuer.notAfter.getTime()));
  if (notAfter.getTime() <= now.getTime()) throw new PkiError("issuer_expired", "the issuing CA has expired", 503);
  return { notBefore, notAfter };
}

export function encodeSubject(fields: SubjectFields): Buffer {
  for (const v of [fields.commonName, fields.organization]) {
    if (v !== undefined && [...v].length > MAX_NAME_LENGTH)
      throw new PkiError("subject_too_long", `subject attribute longer than ${MAX_NAME_LENGTH} characters`);
  }
  return encodeName(subjectAttributes(fields));
}

// ---- extensions (the only place they are built) -------------------------------------------------

function extension(extOid: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(extOid), boolean(true), octetString(value)) : sequence(oid(extOid), octetString(value));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value. */
export function keyIdentifier(subjectPublicKey: Uint8Array): Buffer {
  return createHash("sha1").update(subjectPublicKey).digest();
}

const OID_AD_OCSP = "1.3.6.1.5.5.7.48.1";
const OID_AD_CA_ISSUERS = "1.3.6.1.5.5.7.48.2";
const uriName = (url: string) => implicit(6, ia5String(url).subarray(2));

/** CRL distribution point + AIA (OCSP, optional caIssuers) pointing at the issuer's endpoints. */
function revocationExtensions(loc: RevocationLocation): Buffer {
  const crlUrl = `${loc.publicUrl}/crl/${loc.issuerId}.crl`;
  // DistributionPoint { distributionPoint [0] { fullName [0] { uniformResourceIdentifier } } }
  const crlDp = sequence(sequence(explicit(0, implicit(0, uriName(crlUrl), true))));
  const access = [sequence(oid(OID_AD_OCSP), uriName(`${loc.publicUrl}/ocsp`))];
  if (loc.caIssuersUrl) access.push(sequence(oid(OID_AD_CA_ISSUERS), uriName(loc.caIssuersUrl)));
  return Buffer.concat([
    extension(EXT.crlDistributionPoints, false, crlDp),
    extension(EXT.authorityInfoAccess, false, sequence(...access)),
  ]);
}

const profileExtensionCache = new WeakMap<LeafProfile, Buffer[]>();

/** basicConstraints CA:false (critical), keyUsage (critical), EKU, nocheck: constant per profile. */
function leafProfileExtensions(profile: LeafProfile): Buffer[] {
  let exts = profileExtensionCache.get(profile);
  if (!exts) {
    exts = [
      extension(EXT.basicConstraints, true, sequence()),
      extension(EXT.keyUsage, true, namedBits(profile.keyUsage.map((k: KeyUsageName) => KEY_USAGE[k]))),
      profile.extendedKeyUsage.length
        ? extension(EXT.extKeyUsage, false, sequence(...profile.extendedKeyUsage.map((o) => oid(o))))
        : Buffer.alloc(0),
      profile.ocspNoCheck ? extension(EXT.ocspNoCheck, false, nullValue()) : Buffer.alloc(0),
    ];
    profileExtensionCache.set(profile, exts);
  }
  return exts;
}

// ---- issuer: read once, cached ------------------------------------------------------------------

interface IssuerInfo {
  certDer?: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  pathLen?: number;
  signatureAlgorithm: Buffer;
  akiExtension: Buffer;
  revocationExtensions: Buffer;
}

const MAX_CACHED_ISSUERS = 1024;
const issuerCache = new Map<string, IssuerInfo>();

/** The pre-encoded parts of one issuer, cached by (issuer id, URLs) and re-read when its certificate changes. */
function issuerInfo(issuer: Issuer, loc: RevocationLocation): IssuerInfo {
  const key = `${loc.issuerId}\0${loc.publicUrl}\0${loc.caIssuersUrl ?? ""}`;
  let info = issuerCache.get(key);
  if (!info || !info.certDer!.equals(issuer.certDer)) {
    info = readIssuer(Buffer.from(issuer.certDer), loc, issuer.signer);
    if (issuerCache.size >= MAX_CACHED_ISSUERS) issuerCache.delete(issuerCache.keys().next().value!);
    issuerCache.set(key, info);
  }
  // A signer that is not this CA's key would produce certificates nobody can verify: refuse loudly.
  if (!issuer.signer.spki.equals(info.spki))
    throw new PkiError("issuer_key_mismatch", "the signer does not hold the issuer certificate's key", 500);
  return info;
}

function readIssuer(certDer: Buffer, loc: RevocationLocation, signer: Signer): IssuerInfo {
  let cert: ReturnType<typeof readCertificate>;
  try {
    cert = readCertificate(certDer);
  } catch (e) {
    if (e instanceof DerError || e instanceof RangeError)
      throw new PkiError("issuer_invalid", "the issuer certificate does not parse", 500);
    throw e;
  }
  if (!cert.ca) throw new PkiError("issuer_not_ca", "the issuer certificate is not a CA (basicConstraints)", 500);
  if (cert.keyUsageBits !== undefined && !(cert.keyUsageBits[0] & (0x80 >> KEY_USAGE.keyCertSign))) {
    throw new PkiError("issuer_not_ca", "the issuer certificate lacks keyUsage keyCertSign", 500);
  }
  const ski = cert.ski ?? keyIdentifier(subjectPublicKeyOf(cert.spki));
  return {
    certDer,
    subject: cert.subject,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    spki: cert.spki,
    pathLen: cert.pathLen,
    signatureAlgorithm: SIGNATURE_ALGORITHM_DER[signer.algorithm],
    akiExtension: authorityKeyIdentifier(ski),
    revocationExtensions: revocationExtensions(loc),
  };
}

/** The root signs itself: the issuer is its own (not yet existing) certificate; no CRL DP / OCSP. */
function selfIssuer(signer: Signer, subject: Buffer, keyId: Buffer, now: Date, profile: CaProfile): IssuerInfo {
  return {
    subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: addValidity(now, profile.validity),
    spki: signer.spki,
    signatureAlgorithm: SIGNATURE_ALGORITHM_DER[signer.algorithm],
    akiExtension: authorityKeyIdentifier(keyId),
    revocationExtensions: Buffer.alloc(0),
  };
}

const authorityKeyIdentifier = (keyId: Buffer) => extension(EXT.authorityKeyIdentifier, false, sequence(implicit(0, keyId)));

function subjectPublicKeyOf(spki: Uint8Array): Buffer {
  const buf = Buffer.from(spki);
  const [, bits] = children(buf, expectTlv(buf, 0, TAG.SEQUENCE));
  return bitStringBytes(buf, bits);
}

function checkCaKey(spki: Uint8Array, profile: CaProfile): void {
  let curve: string | undefined;
  try {
    curve = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }).asymmetricKeyDetails?.namedCurve;
  } catch {
    curve = undefined;
  }
  const allowed = profile.id === "root" ? ["prime256v1", "secp384r1"] : ["prime256v1"];
  if (!curve || !allowed.includes(curve))
    throw new PkiError("ca_key_unsupported", `CA keys must be ECDSA ${profile.id === "root" ? "P-256 or P-384" : "P-256"}`);
}

// ---- a lean certificate reader (issuer certificates, tests) -------------------------------------

export interface CertificateFields {
  tbs: Buffer;
  serial: Buffer;
  issuer: Buffer;
  subject: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  ca: boolean;
  pathLen?: number;
  /** KeyUsage BIT STRING bytes (without the unused-bits byte), when present. */
  keyUsageBits?: Buffer;
  ski?: Buffer;
  extensions: { oid: string; critical: boolean; value: Buffer }[];
  signatureAlgorithm: Buffer;
  signature: Buffer;
}

/** Walks a DER certificate far enough to issue under it. Throws DerError on malformed input. */
export function readCertificate(der: Buffer): CertificateFields {
  const outer = expectTlv(der, 0, TAG.SEQUENCE);
  if (outer.end !== der.length) throw new DerError("trailing bytes");
  const [tbs, sigAlg, sig] = children(der, outer);
  const parts = children(der, expectTlv(der, tbs.start, TAG.SEQUENCE));
  const [version, serial, , issuer, validity, subject, spki] = parts;
  if (version?.tag !== 0xa0 || !spki) throw new DerError("not a v3 certificate");
  const [nb, na] = children(der, validity);
  const fields: CertificateFields = {
    tbs: bytesOf(der, tbs),
    serial: contentOf(der, serial),
    issuer: bytesOf(der, issuer),
    subject: bytesOf(der, subject),
    notBefore: decodeTime(der, nb),
    notAfter: decodeTime(der, na),
    spki: bytesOf(der, spki),
    ca: false,
    extensions: [],
    signatureAlgorithm: bytesOf(der, sigAlg),
    signature: bitStringBytes(der, sig),
  };
  const extsWrapper = parts.find((t) => t.tag === 0xa3);
  if (!extsWrapper) return fields;
  for (const ext of children(der, children(der, extsWrapper)[0])) {
    const e = children(der, ext);
    const critical = e.length === 3 && der[e[1].contentStart] !== 0;
    const value = contentOf(der, e[e.length - 1]);
    const extOid = decodeOid(contentOf(der, e[0]));
    fields.extensions.push({ oid: extOid, critical, value });
    if (extOid === EXT.subjectKeyIdentifier) fields.ski = contentOf(value, expectTlv(value, 0, TAG.OCTET_STRING));
    else if (extOid === EXT.keyUsage) fields.keyUsageBits = contentOf(value, expectTlv(value, 0, TAG.BIT_STRING)).subarray(1);
    else if (extOid === EXT.basicConstraints) {
      for (const t of children(value, expectTlv(value, 0, TAG.SEQUENCE))) {
        if (t.tag === TAG.BOOLEAN) fields.ca = value[t.contentStart] !== 0;
        if (t.tag === TAG.INTEGER) fields.pathLen = contentOf(value, t).reduce((n, b) => n * 256 + b, 0);
      }
    }
  }
  return fields;
}

/**
 * Who a certificate we issued speaks for (§1, §5): the UID of its single-RDN directoryName SAN and the device
 * id of its `urn:pss:device:` URI. Used by the mTLS authorizer and to copy the UID into renewals. Only
 * meaningful after the chain has been verified; returns undefined fields when absent or ambiguous.
 */
export function certificateIdentity(der: Buffer): { uid?: string; deviceId?: string; serialHex: string } {
  const cert = readCertificate(der);
  const san = cert.extensions.find((e) => e.oid === EXT.subjectAltName);
  const names = san ? parseGeneralNames(san.value) : [];
  const uids = names.flatMap((g) =>
    g.type === "dirName" && g.attributes.length === 1 && g.attributes[0].oid === OID_UID ? [g.attributes[0].value] : [],
  );
  const devices = names.flatMap((g) =>
    g.type === "uri" && g.value.startsWith("urn:pss:device:") ? [g.value.slice("urn:pss:device:".length)] : [],
  );
  return {
    uid: uids.length === 1 ? uids[0] : undefined,
    deviceId: devices.length === 1 ? devices[0] : undefined,
    serialHex: cert.serial.toString("hex").replace(/^0+(?=.)/, ""),
  };
}
