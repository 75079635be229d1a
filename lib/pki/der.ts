// A tiny DER encoder and reader: just the ASN.1 the signing core writes and reads (X.509, PKCS#10).
// Hand-rolled because it is on the issuance hot path: one Buffer allocation per TLV, no schema objects.
// Encoders take already-encoded children (Uint8Array) and return a Buffer; nothing here is X.509-specific.

/** An encoded value: always backed by a plain (non-shared) ArrayBuffer, as WebCrypto-style APIs require. */
export type Der = Buffer<ArrayBuffer>;

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function lengthBytes(length: number): number {
  if (length < 0x80) return 1;
  if (length < 0x100) return 2;
  if (length < 0x10000) return 3;
  if (length < 0x1000000) return 4;
  return 5;
}

function writeLength(out: Buffer, at: number, length: number): number {
  const n = lengthBytes(length);
  if (n === 1) {
    out[at] = length;
    return at + 1;
  }
  out[at] = 0x80 | (n - 1);
  for (let i = n - 1; i >= 1; i--) {
    out[at + i] = length & 0xff;
    length = Math.floor(length / 256);
  }
  return at + n;
}

/** One TLV: `tag` (a single identifier byte) around the concatenation of `contents`. */
export function tlv(tag: number, ...contents: Uint8Array[]): Der {
  let length = 0;
  for (const c of contents) length += c.length;
  const out = Buffer.allocUnsafe(1 + lengthBytes(length) + length);
  out[0] = tag;
  let at = writeLength(out, 1, length);
  for (const c of contents) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export const sequence = (...items: Uint8Array[]): Der => tlv(TAG.SEQUENCE, ...items);

/** SET OF: DER orders the encoded elements (X.690 §11.6). */
export function set(...items: Uint8Array[]): Der {
  const sorted = items.length > 1 ? [...items].sort((a, b) => Buffer.compare(a, b)) : items;
  return tlv(TAG.SET, ...sorted);
}

/** INTEGER from big-endian unsigned magnitude bytes: minimal encoding, a 0x00 prefix when the high bit is set. */
export function integer(magnitude: Uint8Array): Der {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const bytes = magnitude.subarray(start);
  if (bytes.length === 0) return Buffer.from([TAG.INTEGER, 1, 0]);
  return bytes[0] & 0x80 ? tlv(TAG.INTEGER, Buffer.from([0]), bytes) : tlv(TAG.INTEGER, bytes);
}

/** INTEGER from a small non-negative number (versions, path lengths). */
export function smallInteger(n: number): Der {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a small non-negative integer: ${n}`);
  const bytes: number[] = [];
  do {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  } while (n > 0);
  return integer(Buffer.from(bytes));
}

const oidCache = new Map<string, Der>();

/** OBJECT IDENTIFIER from dotted form; encodings are cached (the set of OIDs we write is small). */
export function oid(dotted: string): Der {
  const cached = oidCache.get(dotted);
  if (cached) return cached;
  if (!/^[0-2](\.(0|[1-9]\d*))+$/.test(dotted)) throw new RangeError(`invalid OID: ${dotted}`);
  const arcs = dotted.split(".").map(BigInt);
  if (arcs[0] < 2n && arcs[1] > 39n) throw new RangeError(`invalid OID: ${dotted}`);
  const body: number[] = [];
  const values = [arcs[0] * 40n + arcs[1], ...arcs.slice(2)];
  for (let v of values) {
    const chunk = [Number(v & 0x7fn)];
    v >>= 7n;
    while (v > 0n) {
      chunk.unshift(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    body.push(...chunk);
  }
  const encoded = tlv(TAG.OID, Buffer.from(body));
  oidCache.set(dotted, encoded);
  return encoded;
}

/**
 * The longest OID content decodeOid reads. Real OIDs are far shorter: the deepest registered arcs take under 40
 * octets, a UUID OID (2.25.<128-bit>, X.667) 20. The bound is what keeps decoding linear and cheap on input
 * from anyone (an OCSP request's hash algorithm, a CSR, a device certificate's extensions): without it one
 * 64 KiB request held a single arc whose decimal form took ~0.4 s of event loop to build.
 */
export const MAX_OID_BYTES = 128;

/**
 * Dotted form of OID content bytes (the value of an OID TLV). Arcs are plain numbers; one that does not fit a
 * double exactly (above 2^53, such as a UUID arc) is read as a BigInt once, from its at most MAX_OID_BYTES octets.
 */
export function decodeOid(content: Uint8Array): string {
  if (content.length === 0 || content[content.length - 1] & 0x80) throw new DerError("malformed OID");
  if (content.length > MAX_OID_BYTES) throw new DerError(`OID longer than ${MAX_OID_BYTES} octets`);
  const arcs: (number | bigint)[] = [];
  let v = 0;
  let start = 0;
  let big = false;
  for (let i = 0; i < content.length; i++) {
    const b = content[i];
    if (i === start && b === 0x80) throw new DerError("non-minimal OID arc");
    // v * 128 + 127 stays exact below 2^53 while v < 2^46; past that the arc is re-read whole as a BigInt
    if (v >= 2 ** 46) big = true;
    else v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      arcs.push(big ? bigArc(content, start, i + 1) : v);
      v = 0;
      big = false;
      start = i + 1;
    }
  }
  const first = arcs[0];
  const parts =
    typeof first === "number" && first < 80
      ? [Math.floor(first / 40), first % 40]
      : [2, typeof first === "number" ? first - 80 : first - 80n];
  return [...parts, ...arcs.slice(1)].join(".");
}

/** One arc's base-128 octets [start, end) as a BigInt, seven octets (49 bits) per step. */
function bigArc(content: Uint8Array, start: number, end: number): bigint {
  let big = 0n;
  for (let i = start; i < end; i += 7) {
    const stop = Math.min(i + 7, end);
    let chunk = 0;
    for (let j = i; j < stop; j++) chunk = chunk * 128 + (content[j] & 0x7f);
    big = (big << BigInt(7 * (stop - i))) | BigInt(chunk);
  }
  return big;
}

export const utf8String = (s: string): Der => tlv(TAG.UTF8_STRING, Buffer.from(s, "utf8"));
const ASCII = /^\p{ASCII}*$/u;

export const ia5String = (s: string): Der => {
  if (!ASCII.test(s)) throw new RangeError("IA5String must be ASCII");
  return tlv(TAG.IA5_STRING, Buffer.from(s, "latin1"));
};

/** PrintableString alphabet (X.680 §41.4): note no `_`, `@`, `*` or `&`. */
export const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function printableString(s: string): Der {
  if (!PRINTABLE.test(s)) throw new RangeError("not a PrintableString");
  return tlv(TAG.PRINTABLE_STRING, Buffer.from(s, "latin1"));
}

const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);

function timeDigits(d: Date): string {
  return `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
}

/** UTCTime YYMMDDHHMMSSZ (seconds precision, fractions dropped). Only years 1950–2049. */
export function utcTime(d: Date): Der {
  const year = d.getUTCFullYear();
  if (year < 1950 || year > 2049) throw new RangeError("UTCTime covers 1950–2049");
  return tlv(TAG.UTC_TIME, Buffer.from(`${two(year % 100)}${timeDigits(d)}`, "latin1"));
}

/** GeneralizedTime YYYYMMDDHHMMSSZ (no fractional seconds, as RFC 5280 §4.1.2.5.2 requires). */
export function generalizedTime(d: Date): Der {
  const year = d.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError("year out of range");
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${String(year).padStart(4, "0")}${timeDigits(d)}`, "latin1"));
}

/** RFC 5280 §4.1.2.5 Time: UTCTime through 2049, GeneralizedTime from 2050. */
export function x509Time(d: Date): Der {
  const year = d.getUTCFullYear();
  return year >= 1950 && year <= 2049 ? utcTime(d) : generalizedTime(d);
}

export const bitString = (bytes: Uint8Array, unusedBits = 0): Der => tlv(TAG.BIT_STRING, Buffer.from([unusedBits]), bytes);
export const octetString = (bytes: Uint8Array): Der => tlv(TAG.OCTET_STRING, bytes);
export const boolean = (v: boolean): Der => Buffer.from([TAG.BOOLEAN, 1, v ? 0xff : 0x00]);
export const nullValue = (): Der => Buffer.from([TAG.NULL, 0]);

/** [n] EXPLICIT: a constructed context tag wrapping complete TLVs. */
export const explicit = (n: number, ...inner: Uint8Array[]): Der => tlv(0xa0 | n, ...inner);

/** [n] IMPLICIT: the content of the underlying type under a context tag (constructed for SEQUENCE/SET content). */
export const implicit = (n: number, content: Uint8Array, constructed = false): Der => tlv((constructed ? 0xa0 : 0x80) | n, content);

/**
 * A DER NamedBitList BIT STRING (KeyUsage): bit 0 is the most significant bit of the first byte; trailing
 * zero bits are dropped as X.690 §11.2.2 requires.
 */
export function namedBits(bits: readonly number[]): Der {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc((highest >> 3) + 1);
  for (const b of bits) bytes[b >> 3] |= 0x80 >> (b & 7);
  return bitString(bytes, 7 - (highest & 7));
}

// ---- reading ----------------------------------------------------------------------------------------

/** One decoded TLV inside `buf`: the header starts at `start`, the value spans [`contentStart`, `end`). */
export interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

export class DerError extends Error {}

/** Reads the TLV at `offset`, refusing anything that is not minimal definite-length DER or overruns `limit`. */
export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new DerError("truncated");
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte tags are not used here");
  let at = offset + 1;
  let length = buf[at++];
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4) throw new DerError("unsupported length");
    if (at + n > limit) throw new DerError("truncated");
    if (buf[at] === 0) throw new DerError("non-minimal length");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[at++];
    if (length < 0x80) throw new DerError("non-minimal length");
  }
  const end = at + length;
  if (end > limit) throw new DerError("truncated");
  return { tag, start: offset, contentStart: at, end };
}

/** Reads a TLV and insists on its tag. */
export function expectTlv(buf: Uint8Array, offset: number, tag: number, limit = buf.length): Tlv {
  const t = readTlv(buf, offset, limit);
  if (t.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return t;
}

/** The child TLVs of a constructed value. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.end; ) {
    const t = readTlv(buf, at, parent.end);
    out.push(t);
    at = t.end;
  }
  return out;
}

export const contentOf = (buf: Uint8Array, t: Tlv): Buffer =>
  Buffer.from(buf.buffer, buf.byteOffset + t.contentStart, t.end - t.contentStart);
export const bytesOf = (buf: Uint8Array, t: Tlv): Buffer => Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start);

/** The bytes of a BIT STRING with no unused bits (keys, signatures). */
export function bitStringBytes(buf: Uint8Array, t: Tlv): Buffer {
  if (t.tag !== TAG.BIT_STRING || t.end - t.contentStart < 1 || buf[t.contentStart] !== 0)
    throw new DerError("expected a whole-byte BIT STRING");
  return Buffer.from(buf.buffer, buf.byteOffset + t.contentStart + 1, t.end - t.contentStart - 1);
}

/** Decodes a directory string value (the string types names use), or throws. */
export function decodeString(buf: Uint8Array, t: Tlv): string {
  const c = contentOf(buf, t);
  switch (t.tag) {
    case TAG.UTF8_STRING:
      return new TextDecoder("utf-8", { fatal: true }).decode(c);
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING: {
      const s = c.toString("latin1");
      if (t.tag === TAG.PRINTABLE_STRING ? !PRINTABLE.test(s) : !ASCII.test(s)) throw new DerError("invalid string characters");
      return s;
    }
    case TAG.T61_STRING:
      return c.toString("latin1");
    case TAG.BMP_STRING:
      if (c.length % 2) throw new DerError("odd BMPString");
      return Buffer.from(c).swap16().toString("utf16le");
    case TAG.UNIVERSAL_STRING: {
      if (c.length % 4) throw new DerError("bad UniversalString");
      let s = "";
      for (let i = 0; i < c.length; i += 4) s += String.fromCodePoint(c.readUInt32BE(i));
      return s;
    }
    default:
      throw new DerError(`not a string type: 0x${t.tag.toString(16)}`);
  }
}

/** Parses UTCTime / GeneralizedTime in the RFC 5280 profile (Z, seconds). */
export function decodeTime(buf: Uint8Array, t: Tlv): Date {
  const s = contentOf(buf, t).toString("latin1");
  const m =
    t.tag === TAG.UTC_TIME
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m || (t.tag !== TAG.UTC_TIME && t.tag !== TAG.GENERALIZED_TIME)) throw new DerError("bad time");
  let year = Number(m[1]);
  if (t.tag === TAG.UTC_TIME) year += year < 50 ? 2000 : 1900;
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}

/** PEM armour with 64-column base64 lines. */
export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  let body = "";
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

/** The DER of every CERTIFICATE block in a PEM text, in order (anything between blocks is ignored). */
export function pemCertificates(text: string): Buffer[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) =>
    Buffer.from(m[1].replace(/\s+/g, ""), "base64"),
  );
}

/** Splits concatenated DER values (a stored certificate chain) into one Buffer each. */
export function splitDer(buf: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  for (let offset = 0; offset < buf.length; ) {
    const t = readTlv(buf, offset);
    out.push(Buffer.from(buf.subarray(offset, t.end)));
    offset = t.end;
  }
  return out;
}
