// Browser-side key generation for the portal (SPEC §8): the private key is created by WebCrypto and
// leaves this tab only as a file the user downloads — never in a request to the server.
// ECDSA P-256 everywhere; WebCrypto signs with the raw R‖S encoding (what JWS ES256 wants, RFC 7518 §3.4).

export type GeneratedKey = { keyPair: CryptoKeyPair; publicJwk: { kty: "EC"; crv: "P-256"; x: string; y: string } };

const ECDSA = { name: "ECDSA", namedCurve: "P-256" } as const;
const SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

export function base64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function pem(label: string, der: Uint8Array): string {
  let bin = "";
  for (const b of der) bin += String.fromCharCode(b);
  const b64 = btoa(bin)
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "");
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** A fresh, extractable P-256 key pair and its public JWK (public members only). */
export async function generateP256(): Promise<GeneratedKey> {
  const keyPair = await crypto.subtle.generateKey(ECDSA, true, ["sign", "verify"]);
  const jwk = await crypto.subtle.exportKey("jwk", keyPair.publicKey);
  return { keyPair, publicJwk: { kty: "EC", crv: "P-256", x: String(jwk.x), y: String(jwk.y) } };
}

/** The private key as PKCS#8 PEM ("PRIVATE KEY"), for the user to download. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  return pem("PRIVATE KEY", new Uint8Array(await crypto.subtle.exportKey("pkcs8", key)));
}

/** Proof of possession (SPEC §4): compact JWS, ES256, the public JWK in the protected header, payload {nonce, iat}. */
export async function proofOfPossession(key: GeneratedKey, now = Date.now()): Promise<string> {
  const header = base64url(JSON.stringify({ alg: "ES256", jwk: key.publicJwk }));
  const nonce = base64url(crypto.getRandomValues(new Uint8Array(18)));
  const payload = base64url(JSON.stringify({ nonce, iat: Math.floor(now / 1000) }));
  const input = new TextEncoder().encode(`${header}.${payload}`);
  const sig = new Uint8Array(await crypto.subtle.sign(SHA256, key.keyPair.privateKey, input));
  return `${header}.${payload}.${base64url(sig)}`;
}

// ---- a minimal DER writer: just what a PKCS#10 request needs ----------------------------------------------

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const body = concat(...content);
  const n = body.length;
  let len: Uint8Array;
  if (n < 0x80) len = Uint8Array.of(n);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Uint8Array.of(0x80 | bytes.length, ...bytes);
  }
  return concat(Uint8Array.of(tag), len, body);
}

const seq = (...c: Uint8Array[]) => tlv(0x30, ...c);
const set = (...c: Uint8Array[]) => tlv(0x31, ...c);

export function oid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const bytes = [40 * a + b];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(bytes));
}

/** A non-negative INTEGER from big-endian bytes: leading zeros trimmed, a zero prepended when the top bit is set. */
export function unsignedInteger(raw: Uint8Array): Uint8Array {
  let i = 0;
  while (i < raw.length - 1 && raw[i] === 0) i++;
  const v = raw.slice(i);
  return tlv(0x02, v[0] & 0x80 ? concat(Uint8Array.of(0), v) : v);
}

/** WebCrypto's raw R‖S → the DER Ecdsa-Sig-Value X.509 signatures carry (RFC 3279 §2.2.3). */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return seq(unsignedInteger(raw.slice(0, half)), unsignedInteger(raw.slice(half)));
}

const OID_CN = "2.5.4.3";
const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";

/** A PKCS#10 request (RFC 2986) for the key pair, subject CN = `commonName`, no attributes, signed ECDSA SHA-256. */
export async function buildCsrDer(key: GeneratedKey, commonName: string): Promise<Uint8Array> {
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", key.keyPair.publicKey));
  const subject = seq(set(seq(oid(OID_CN), tlv(0x0c, new TextEncoder().encode(commonName)))));
  const info = seq(tlv(0x02, Uint8Array.of(0)), subject, spki, tlv(0xa0));
  const raw = new Uint8Array(await crypto.subtle.sign(SHA256, key.keyPair.privateKey, info));
  return seq(info, seq(oid(OID_ECDSA_SHA256)), tlv(0x03, Uint8Array.of(0), ecdsaRawToDer(raw)));
}

export async function buildCsrPem(key: GeneratedKey, commonName: string): Promise<string> {
  return pem("CERTIFICATE REQUEST", await buildCsrDer(key, commonName));
}

/** Offer text as a file download (a Blob URL: nothing is sent anywhere). */
export function downloadText(filename: string, text: string, type = "application/x-pem-file"): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
