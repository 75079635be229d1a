// Distinguished names and general names the PKI writes (§3): subject RDN order O, CN, serialNumber; the UID
// directoryName SAN; the device URI; the configurable "PSS" prefix of every customer-facing CN.
import { ia5String, oid, printableString, sequence, set, tlv, utf8String } from "./der.ts";
import { PkiError } from "./errors.ts";

export const OID_CN = "2.5.4.3";
export const OID_SERIAL_NUMBER = "2.5.4.5";
export const OID_O = "2.5.4.10";
export const OID_UID = "0.9.2342.19200300.100.1.1";

export const DEFAULT_SUBJECT_PREFIX = "PSS";
/** ub-common-name / ub-organization-name (RFC 5280 Appendix A). */
export const MAX_NAME_LENGTH = 64;

export interface NameAttribute {
  oid: string;
  value: string;
  /** serialNumber must be a PrintableString; everything else we write is UTF8String. */
  encoding: "utf8" | "printable";
}

/** Short names for display (RFC 4514 + the ones our subjects use). */
const SHORT_NAMES: Record<string, string> = {
  [OID_CN]: "CN",
  [OID_SERIAL_NUMBER]: "serialNumber",
  [OID_O]: "O",
  [OID_UID]: "UID",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.11": "OU",
  "1.2.840.113549.1.9.1": "emailAddress",
  "0.9.2342.19200300.100.1.25": "DC",
};

export const shortName = (attrOid: string): string => SHORT_NAMES[attrOid] ?? attrOid;

function attributeValue(a: NameAttribute): Buffer {
  return a.encoding === "printable" ? printableString(a.value) : utf8String(a.value);
}

/** A Name with one attribute per RDN, in the given order. */
export function encodeName(attributes: readonly NameAttribute[]): Buffer {
  return sequence(...attributes.map((a) => set(sequence(oid(a.oid), attributeValue(a)))));
}

/** RFC 4514-style text of attributes in encoding order ("O=Acme, CN=…"), for logs and the database. */
export function formatName(attributes: readonly { oid: string; value: string }[]): string {
  return attributes.map((a) => `${shortName(a.oid)}=${escapeValue(a.value)}`).join(", ");
}

function escapeValue(v: string): string {
  return v.replace(/[,+"\\<>;=]/g, "\\$&").replace(/^[ #]|[ ]$/g, "\\$&");
}

export interface SubjectFields {
  organization?: string;
  commonName: string;
  serialNumber?: string;
}

/** The attributes of a subject in §3 order: O, CN, serialNumber. */
export function subjectAttributes(f: SubjectFields): NameAttribute[] {
  const attrs: NameAttribute[] = [];
  if (f.organization !== undefined) attrs.push({ oid: OID_O, value: f.organization, encoding: "utf8" });
  attrs.push({ oid: OID_CN, value: f.commonName, encoding: "utf8" });
  if (f.serialNumber !== undefined) attrs.push({ oid: OID_SERIAL_NUMBER, value: f.serialNumber, encoding: "printable" });
  return attrs;
}

// ---- general names (RFC 5280 §4.2.1.6) -------------------------------------------------------------

export type GeneralName =
  | { type: "dirName"; attributes: { oid: string; value: string }[] }
  | { type: "uri" | "dns" | "email" | "ip"; value: string }
  | { type: "other"; tag: number };

/** directoryName [4] holding exactly one RDN: UID (UTF8String) = the customer user's UID. */
export function uidGeneralName(uid: string): GeneralName {
  return { type: "dirName", attributes: [{ oid: OID_UID, value: uid }] };
}

export const deviceUri = (deviceId: string): string => `urn:pss:device:${deviceId}`;

/** DER of one GeneralName. Directory names we write use UTF8String values (UID, CN, O). */
export function encodeGeneralName(g: GeneralName): Buffer {
  switch (g.type) {
    case "dirName":
      return tlv(0xa4, encodeName(g.attributes.map((a) => ({ ...a, encoding: "utf8" as const }))));
    case "email":
      return tlv(0x81, ia5String(g.value).subarray(2));
    case "dns":
      return tlv(0x82, Buffer.from(g.value, "latin1"));
    case "uri":
      return tlv(0x86, Buffer.from(g.value, "latin1"));
    case "ip":
      return tlv(0x87, ipBytes(g.value));
    default:
      throw new RangeError("cannot encode this GeneralName");
  }
}

export function encodeGeneralNames(names: readonly GeneralName[]): Buffer {
  return sequence(...names.map(encodeGeneralName));
}

/** Text form used to compare a requested name with an issued one ("URI:urn:pss:device:x", "DirName:UID=…"). */
export function generalNameKey(g: GeneralName): string {
  switch (g.type) {
    case "dirName":
      return `DirName:${formatName(g.attributes)}`;
    case "other":
      return `other:${g.tag}`;
    case "ip":
      return `IP:${g.value}`;
    case "dns":
      return `DNS:${g.value.toLowerCase()}`;
    default:
      return `${g.type.toUpperCase()}:${g.value}`;
  }
}

function ipBytes(ip: string): Buffer {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) throw new PkiError("ip_invalid", `invalid IP address: ${ip}`);
    return Buffer.from(parts);
  }
  if (!ip.includes(":")) throw new PkiError("ip_invalid", `invalid IP address: ${ip}`);
  const [head, tail = undefined, ...rest] = ip.split("::");
  if (rest.length) throw new PkiError("ip_invalid", `invalid IP address: ${ip}`);
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  const h = groups(head);
  const t = groups(tail);
  const fill = tail === undefined ? 0 : 8 - h.length - t.length;
  const all = [...h, ...Array(fill).fill("0"), ...t];
  if (all.length !== 8 || all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) throw new PkiError("ip_invalid", `invalid IP address: ${ip}`);
  return Buffer.from(all.map((g) => g.padStart(4, "0")).join(""), "hex");
}

/** Text form of iPAddress content bytes (IPv4 dotted, IPv6 as 8 full groups, lowercase). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  if (bytes.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
    return groups.join(":");
  }
  return Buffer.from(bytes).toString("hex");
}

/** Canonical text of an IP address as we compare it (IPv6 expanded the same way as formatIp). */
export const canonicalIp = (ip: string): string => formatIp(ipBytes(ip));

// ---- customer-facing common names ------------------------------------------------------------------

/** The CN of every certificate kind that embeds the customer name; the CA kinds reserve " G9999" for generations. */
export const CUSTOMER_CN = {
  bootstrap: (customer: string, prefix = DEFAULT_SUBJECT_PREFIX) => `${prefix} ${customer} Bootstrapping Certificate`,
  clientTls: (customer: string, prefix = DEFAULT_SUBJECT_PREFIX) => `${prefix} ${customer} Client TLS Certificate`,
  tlsIssuingCa: (customer: string, generation: number, prefix = DEFAULT_SUBJECT_PREFIX) =>
    `${prefix} ${customer} TLS Issuing CA G${generation}`,
  applicationCa: (customer: string, application: string, generation: number, prefix = DEFAULT_SUBJECT_PREFIX) =>
    `${prefix} ${customer} ${application.toUpperCase()} Application CA G${generation}`,
  ocspResponder: (customer: string, prefix = DEFAULT_SUBJECT_PREFIX) => `${prefix} ${customer} OCSP Responder`,
} as const;

const charLength = (s: string) => [...s].length;

/**
 * Refuses a customer name that could not appear in every subject we build: empty, control characters,
 * surrounding spaces, O longer than 64, or any CN longer than 64 characters with the given prefix.
 */
export function checkCustomerName(name: string, prefix = DEFAULT_SUBJECT_PREFIX, applications: readonly string[] = ["c2pa"]): void {
  if (name.length === 0 || name.trim() !== name || /[\p{Cc}\p{Cs}]/u.test(name) || !name.isWellFormed()) {
    throw new PkiError("customer_name_invalid", "customer name must be non-empty printable text without surrounding spaces");
  }
  const longestGeneration = 9999;
  const names = [
    name,
    CUSTOMER_CN.bootstrap(name, prefix),
    CUSTOMER_CN.clientTls(name, prefix),
    CUSTOMER_CN.tlsIssuingCa(name, longestGeneration, prefix),
    CUSTOMER_CN.ocspResponder(name, prefix),
    ...applications.map((a) => CUSTOMER_CN.applicationCa(name, a, longestGeneration, prefix)),
  ];
  const tooLong = names.find((n) => charLength(n) > MAX_NAME_LENGTH);
  if (tooLong !== undefined) {
    throw new PkiError("customer_name_too_long", `customer name too long: "${tooLong}" exceeds ${MAX_NAME_LENGTH} characters`);
  }
}

/** The device id pattern of §3 (a PrintableString subset: no `_`). */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9.:-]{1,64}$/;
