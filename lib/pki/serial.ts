// Certificate serial numbers (§3): random, positive, 128 bits; stored and shown as lowercase hex without
// leading zeros, looked up ignoring case, leading zeros and colons.
import { randomBytes } from "node:crypto";
import { PkiError } from "./errors.ts";

export interface Serial {
  /** Content bytes of the DER INTEGER (minimal two's complement, always positive). */
  der: Buffer;
  /** Normalized form: lowercase hex, no leading zeros. */
  hex: string;
}

// Random bytes drawn in blocks: one CSPRNG call per 256 serials instead of one per certificate.
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOffset = POOL_BYTES;

function random16(): Buffer {
  if (poolOffset + 16 > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const out = Buffer.from(pool.subarray(poolOffset, poolOffset + 16));
  pool.fill(0, poolOffset, poolOffset + 16); // each byte is handed out once
  poolOffset += 16;
  return out;
}

/** 16 random bytes with the top bit cleared (so the INTEGER is positive in 16 bytes): 127 bits of entropy. */
export function randomSerial(): Serial {
  for (;;) {
    const bytes = random16();
    bytes[0] &= 0x7f;
    const serial = serialFromBytes(bytes);
    if (serial.hex !== "0") return serial;
  }
}

/** A serial from a (normalizable) hex string, read as a positive magnitude — used to re-issue with a fixed serial in tests and tools. */
export function serialFromHex(input: string): Serial {
  const hex = normalizeSerial(input);
  const serial = serialFromBytes(Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex"));
  if (serial.der.length > 20) throw new PkiError("serial_invalid", "serial must fit in 20 bytes (RFC 5280 §4.1.2.2)");
  return serial;
}

function serialFromBytes(bytes: Buffer): Serial {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  let der = bytes.subarray(start);
  if (der[0] & 0x80) der = Buffer.concat([Buffer.from([0]), der]);
  const hex = bytes.toString("hex").replace(/^0+(?=.)/, "");
  return { der: Buffer.from(der), hex };
}

/**
 * Normalized lookup key for a serial typed by a person or read from another tool: case-insensitive, optional
 * `0x` prefix, colons/spaces between bytes allowed, leading zeros ignored.
 */
export function normalizeSerial(input: string): string {
  const compact = input.trim().replace(/^0x/i, "").replace(/[:\s]/g, "").toLowerCase();
  if (!/^[0-9a-f]{1,80}$/.test(compact)) throw new PkiError("serial_invalid", "serial must be hexadecimal");
  return compact.replace(/^0+(?=.)/, "");
}
