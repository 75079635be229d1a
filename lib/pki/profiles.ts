// Certificate profiles as data (§2, §3): what each kind of certificate contains and which checks a request
// must pass. The pipeline in certificate.ts is the only code that turns a profile into bytes.
//
// Request validators are tiny functions over a RequestContext (smallstep sign_options style). Codes:
//   csr_ca_requested                 the request asks for basicConstraints CA:TRUE
//   csr_critical_extension_unknown   a requested extension is critical and not one we understand
//   csr_san_not_allowed              a requested SAN is not one this certificate will carry
//   csr_device_id_mismatch           the request names a device id other than the one the caller vouches for
// Pipeline/profile parameter codes (thrown by resolveDeviceId / the subject and SAN builders):
//   csr_device_id_missing, csr_device_id_invalid, csr_device_id_ambiguous   (see csr.ts)
//   profile_uid_missing              a customer profile without the customer user's UID
//   profile_names_missing            the server profile without any DNS name or IP address
//   profile_unknown                  getProfile with an unknown id (404)
import { checkDeviceId, type ParsedCsr, requireDeviceId } from "./csr.ts";
import { PkiError } from "./errors.ts";
import {
  CUSTOMER_CN,
  canonicalIp,
  DEFAULT_SUBJECT_PREFIX,
  deviceUri,
  type GeneralName,
  generalNameKey,
  type SubjectFields,
  uidGeneralName,
} from "./names.ts";

// ---- vocabulary ----------------------------------------------------------------------------------

/** KeyUsage bit positions (RFC 5280 §4.2.1.3). */
export const KEY_USAGE = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
} as const;
export type KeyUsageName = keyof typeof KEY_USAGE;

export const EKU = {
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
  ocspSigning: "1.3.6.1.5.5.7.3.9",
  documentSigning: "1.3.6.1.5.5.7.3.36",
} as const;

/** Extension OIDs the request validators know about. */
export const EXT = {
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  crlDistributionPoints: "2.5.29.31",
  authorityKeyIdentifier: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  authorityInfoAccess: "1.3.6.1.5.5.7.1.1",
  ocspNoCheck: "1.3.6.1.5.5.7.48.1.5",
} as const;

export type Validity = { years: number } | { days: number };

/** `from` plus a validity, in UTC calendar terms (years) or exact days. */
export function addValidity(from: Date, v: Validity): Date {
  const d = new Date(from.getTime());
  if ("years" in v) d.setUTCFullYear(d.getUTCFullYear() + v.years);
  else d.setTime(d.getTime() + v.days * 86_400_000);
  return d;
}

// ---- request validators ---------------------------------------------------------------------------

export interface RequestContext {
  csr: ParsedCsr;
  /** The device id this certificate will carry (undefined for profiles without one). */
  deviceId?: string;
  /** A device id the caller vouches for (e.g. from the authenticating mTLS certificate). */
  expectedDeviceId?: string;
  /** The general names this certificate will carry. */
  issuedSans: GeneralName[];
}

export type RequestValidator = (req: RequestContext) => void;

/** Extensions a request may mark critical: we understand them, and we write our own values anyway. */
const UNDERSTOOD_REQUEST_EXTENSIONS = new Set<string>([
  EXT.subjectAltName,
  EXT.basicConstraints,
  EXT.keyUsage,
  EXT.extKeyUsage,
  EXT.subjectKeyIdentifier,
]);

export const noCaRequested: RequestValidator = ({ csr }) => {
  if (csr.basicConstraints?.ca) throw new PkiError("csr_ca_requested", "the request asks for a CA certificate (basicConstraints CA:TRUE)");
};

export const noUnknownCriticalExtension: RequestValidator = ({ csr }) => {
  const unknown = csr.extensions.find((e) => e.critical && !UNDERSTOOD_REQUEST_EXTENSIONS.has(e.oid));
  if (unknown) throw new PkiError("csr_critical_extension_unknown", `the request marks unknown extension ${unknown.oid} critical`);
};

/**
 * A requested SAN is accepted only if it equals what the profile issues (SPEC §3): nothing the profile would not
 * issue, nothing of it left out (RFC 7030 §4.2.2: a re-enrollment repeats the current SAN whole). No SAN is fine.
 */
export const requestedSansAreIssued: RequestValidator = ({ csr, issuedSans }) => {
  if (!csr.sans.length) return;
  const issued = new Set(issuedSans.map(generalNameKey));
  const extra = csr.sans.find((g) => !issued.has(generalNameKey(g)));
  if (extra) throw new PkiError("csr_san_not_allowed", `subjectAltName ${generalNameKey(extra)} is not allowed for this certificate`);
  const requested = new Set(csr.sans.map(generalNameKey));
  const missing = [...issued].find((k) => !requested.has(k));
  if (missing)
    throw new PkiError(
      "csr_san_incomplete",
      `a requested subjectAltName must equal the one issued: ${missing} is missing (or request none)`,
    );
};

/** When the caller vouches for a device id, a request that names a device must name that one. */
export const deviceIdMatchesExpected: RequestValidator = ({ csr, expectedDeviceId }) => {
  if (expectedDeviceId !== undefined && csr.deviceId !== undefined && csr.deviceId !== expectedDeviceId) {
    throw new PkiError("csr_device_id_mismatch", "the request's device id differs from the authenticated device");
  }
};

const COMMON_VALIDATORS: RequestValidator[] = [noCaRequested, noUnknownCriticalExtension, requestedSansAreIssued];

// ---- leaf profiles --------------------------------------------------------------------------------

export interface SubjectContext {
  customerName: string;
  prefix: string;
  deviceId?: string;
  uid?: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
}

export type LeafProfileId = "bootstrap" | "client-tls" | "c2pa" | "server" | "ocsp-responder";

export interface LeafProfile {
  kind: "leaf";
  id: LeafProfileId;
  validity: Validity;
  /** Whether the certificate names a device (subject serialNumber / CN and the device URI). */
  deviceId: "required" | "none";
  /** Customer certificates always carry the UID directoryName (§3); system certificates may. */
  uid: "required" | "optional";
  subject(ctx: SubjectContext): SubjectFields;
  sans(ctx: SubjectContext): GeneralName[];
  keyUsage: readonly KeyUsageName[];
  extendedKeyUsage: readonly string[];
  /** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1) for delegated OCSP responders. */
  ocspNoCheck?: boolean;
  validators: readonly RequestValidator[];
}

const uidSan = (ctx: SubjectContext): GeneralName[] => (ctx.uid === undefined ? [] : [uidGeneralName(ctx.uid)]);
const deviceSans = (ctx: SubjectContext): GeneralName[] => [...uidSan(ctx), { type: "uri", value: deviceUri(ctx.deviceId!) }];
const ONE_YEAR: Validity = { days: 365 };

export const LEAF_PROFILES: Record<LeafProfileId, LeafProfile> = {
  bootstrap: {
    kind: "leaf",
    id: "bootstrap",
    validity: ONE_YEAR,
    deviceId: "none",
    uid: "required",
    subject: (c) => ({ organization: c.customerName, commonName: CUSTOMER_CN.bootstrap(c.customerName, c.prefix) }),
    sans: uidSan,
    keyUsage: ["digitalSignature"],
    extendedKeyUsage: [EKU.clientAuth],
    validators: COMMON_VALIDATORS,
  },
  "client-tls": {
    kind: "leaf",
    id: "client-tls",
    validity: ONE_YEAR,
    deviceId: "required",
    uid: "required",
    subject: (c) => ({
      organization: c.customerName,
      commonName: CUSTOMER_CN.clientTls(c.customerName, c.prefix),
      serialNumber: c.deviceId,
    }),
    sans: deviceSans,
    keyUsage: ["digitalSignature"],
    extendedKeyUsage: [EKU.clientAuth],
    validators: [deviceIdMatchesExpected, ...COMMON_VALIDATORS],
  },
  // Application profile (v1: C2PA content credentials signing).
  c2pa: {
    kind: "leaf",
    id: "c2pa",
    validity: ONE_YEAR,
    deviceId: "required",
    uid: "required",
    subject: (c) => ({ organization: c.customerName, commonName: c.deviceId! }),
    sans: deviceSans,
    keyUsage: ["digitalSignature"],
    extendedKeyUsage: [EKU.documentSigning],
    validators: [deviceIdMatchesExpected, ...COMMON_VALIDATORS],
  },
  // The device listener's own TLS certificate: the names come from configuration, never from the CSR.
  server: {
    kind: "leaf",
    id: "server",
    validity: ONE_YEAR,
    deviceId: "none",
    uid: "optional",
    subject: (c) => ({ organization: c.customerName, commonName: serverNames(c)[0].value }),
    sans: (c) => [...uidSan(c), ...serverNames(c)],
    keyUsage: ["digitalSignature"],
    extendedKeyUsage: [EKU.serverAuth],
    validators: COMMON_VALIDATORS,
  },
  // A delegated OCSP responder for one CA: short-lived, so no revocation checking of it (nocheck).
  "ocsp-responder": {
    kind: "leaf",
    id: "ocsp-responder",
    validity: { days: 90 },
    deviceId: "none",
    uid: "optional",
    subject: (c) => ({ organization: c.customerName, commonName: CUSTOMER_CN.ocspResponder(c.customerName, c.prefix) }),
    sans: uidSan,
    keyUsage: ["digitalSignature"],
    extendedKeyUsage: [EKU.ocspSigning],
    ocspNoCheck: true,
    validators: COMMON_VALIDATORS,
  },
};

function serverNames(c: SubjectContext): { type: "dns" | "ip"; value: string }[] {
  const names = [
    ...(c.dnsNames ?? []).map((value) => ({ type: "dns" as const, value: value.toLowerCase() })),
    ...(c.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value: canonicalIp(value) })),
  ];
  if (names.length === 0) throw new PkiError("profile_names_missing", "the server profile needs at least one DNS name or IP address");
  for (const n of names) {
    if (n.type === "dns" && !/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/.test(n.value)) {
      throw new PkiError("profile_names_invalid", `invalid DNS name: ${n.value}`);
    }
  }
  return names;
}

export function getLeafProfile(id: string): LeafProfile {
  const p = Object.hasOwn(LEAF_PROFILES, id) ? LEAF_PROFILES[id as LeafProfileId] : undefined;
  if (!p) throw new PkiError("profile_unknown", `unknown certificate profile: ${id}`, 404);
  return p;
}

/**
 * The device id a certificate of this profile carries: the one the caller vouches for (mTLS, manufacturing
 * tool) when given, else the request's serialNumber/CN; always checked against the §3 pattern.
 */
export function resolveDeviceId(profile: LeafProfile, csr: ParsedCsr, given?: string): string | undefined {
  if (profile.deviceId === "none") return undefined;
  if (given !== undefined) return checkDeviceId(given);
  return requireDeviceId(csr);
}

/** Builds the request context and runs every validator of the profile (throws the first refusal). */
export function validateRequest(profile: LeafProfile, req: RequestContext): void {
  for (const check of profile.validators) check(req);
}

export function subjectContext(p: {
  customerName: string;
  prefix?: string;
  deviceId?: string;
  uid?: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
}): SubjectContext {
  return { ...p, prefix: p.prefix ?? DEFAULT_SUBJECT_PREFIX };
}

// ---- CA profiles ----------------------------------------------------------------------------------

export type CaProfileId =
  | "root"
  | "bootstrap-intermediate"
  | "bootstrap-issuing"
  | "tls-intermediate"
  | "customer-tls-issuing"
  | "application-ca";

export interface CaProfile {
  kind: "ca";
  id: CaProfileId;
  validity: Validity;
  /** basicConstraints pathLenConstraint; undefined = unlimited. Issuing CAs get 0 (§2). */
  pathLen?: number;
  /** Only the root is self-signed, and only the root has no CRL DP / OCSP URL (§2). */
  selfSigned: boolean;
}

/** §2 hierarchy. Intermediates get pathLen 1: they only ever sign issuing CAs. */
export const CA_PROFILES: Record<CaProfileId, CaProfile> = {
  root: { kind: "ca", id: "root", validity: { years: 20 }, selfSigned: true },
  "bootstrap-intermediate": { kind: "ca", id: "bootstrap-intermediate", validity: { years: 2 }, pathLen: 1, selfSigned: false },
  "bootstrap-issuing": { kind: "ca", id: "bootstrap-issuing", validity: { years: 2 }, pathLen: 0, selfSigned: false },
  "tls-intermediate": { kind: "ca", id: "tls-intermediate", validity: { years: 10 }, pathLen: 1, selfSigned: false },
  "customer-tls-issuing": { kind: "ca", id: "customer-tls-issuing", validity: { years: 5 }, pathLen: 0, selfSigned: false },
  "application-ca": { kind: "ca", id: "application-ca", validity: { years: 5 }, pathLen: 0, selfSigned: false },
};

export function getCaProfile(id: string): CaProfile {
  const p = Object.hasOwn(CA_PROFILES, id) ? CA_PROFILES[id as CaProfileId] : undefined;
  if (!p) throw new PkiError("profile_unknown", `unknown CA profile: ${id}`, 404);
  return p;
}
