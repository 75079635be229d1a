// Signed payloads of the customer API (SPEC §4): a JWS (compact or flattened JSON) signed by a registered
// payload-signing key of the calling user, `kid` in the protected header, payload {nonce, iat, …}.
// Order matters: verify the signature, then consume the nonce (unique constraint: holds across processes,
// and a request refused later still spends it), then check iat, url and the payload's shape.
import { calculateJwkThumbprint, flattenedVerify, importJWK, type JWK } from "jose";
import type { z } from "zod";
import { db } from "../../db/client.ts";
import { AppError, isUniqueViolation } from "../../errors.ts";
import { rsaModulusBits } from "../../pki/csr.ts";
import { API_LIMITS, JWS_ALGORITHMS, type JwsAlgorithm, KID_PATTERN } from "../../validations/api.ts";

export type FlattenedJws = { protected: string; payload: string; signature: string };

export type ProtectedHeader = { alg: JwsAlgorithm; kid?: string; jwk?: JWK; url?: string };

const malformed = (why: string) => new AppError("jws_malformed", `malformed JWS: ${why}`, 400);

const B64URL = /^[A-Za-z0-9_-]*$/;

/**
 * The signatures of a request body: compact text, a flattened JSON object or (allowGeneral) a general JSON
 * object, each returned as a flattened JWS over the same payload. Anything else is jws_malformed.
 */
export function parseJwsBody(text: string, { allowGeneral = false } = {}): FlattenedJws[] {
  const body = text.trim();
  if (body === "") throw malformed("empty body");
  if (!body.startsWith("{")) {
    const compact = body.startsWith('"') ? safeJson(body) : body;
    if (typeof compact !== "string") throw malformed("expected a compact JWS or a JSON object");
    const parts = compact.split(".");
    if (parts.length !== 3 || !parts.every((p) => B64URL.test(p)) || !parts[0] || !parts[2])
      throw malformed("a compact JWS has three base64url parts");
    return [{ protected: parts[0], payload: parts[1], signature: parts[2] }];
  }
  const obj = safeJson(body);
  if (!isRecord(obj)) throw malformed("not a JSON object");
  const str = (v: unknown, name: string, allowEmpty = false) => {
    if (typeof v !== "string" || !B64URL.test(v) || (!allowEmpty && v === "")) throw malformed(`${name} must be base64url`);
    return v;
  };
  if ("signatures" in obj) {
    if (!allowGeneral) throw malformed("use the compact or flattened serialization");
    const keys = Object.keys(obj);
    if (keys.some((k) => k !== "payload" && k !== "signatures"))
      throw malformed("unexpected members (unprotected headers are not accepted)");
    const sigs = obj.signatures;
    if (!Array.isArray(sigs) || sigs.length < 1 || sigs.length > 2) throw malformed("signatures must hold one or two entries");
    const payload = str(obj.payload, "payload", true);
    return sigs.map((s, i) => {
      if (!isRecord(s) || Object.keys(s).some((k) => k !== "protected" && k !== "signature"))
        throw malformed(`signatures[${i}] has unexpected members`);
      return { protected: str(s.protected, "protected"), payload, signature: str(s.signature, "signature") };
    });
  }
  if (Object.keys(obj).some((k) => k !== "protected" && k !== "payload" && k !== "signature"))
    throw malformed("unexpected members (unprotected headers are not accepted)");
  return [
    { protected: str(obj.protected, "protected"), payload: str(obj.payload, "payload", true), signature: str(obj.signature, "signature") },
  ];
}

/** The protected header, checked: a JSON object with an allowed alg, no crit/b64 games. */
export function readProtectedHeader(jws: FlattenedJws): ProtectedHeader {
  const header = safeJson(Buffer.from(jws.protected, "base64url").toString("utf8"));
  if (!isRecord(header)) throw malformed("the protected header is not a JSON object");
  const alg = header.alg;
  if (typeof alg !== "string" || !(JWS_ALGORITHMS as readonly string[]).includes(alg))
    throw new AppError("jws_alg_not_allowed", `alg must be one of ${JWS_ALGORITHMS.join(", ")}`, 400);
  if ("crit" in header || "b64" in header)
    throw new AppError("jws_header_invalid", "crit and b64 header parameters are not supported", 400);
  if ("kid" in header && (typeof header.kid !== "string" || header.kid === "" || header.kid.length > 128))
    throw new AppError("jws_header_invalid", "kid must be a non-empty string", 400);
  if ("url" in header && typeof header.url !== "string") throw new AppError("jws_header_invalid", "url must be a string", 400);
  if ("jwk" in header && !isRecord(header.jwk)) throw new AppError("jws_header_invalid", "jwk must be a JSON object", 400);
  return header as ProtectedHeader;
}

/**
 * An RSA JWK's modulus (SPEC §7 weak keys): 2048–4096 bits counted on its magnitude, and in its minimal
 * octets as RFC 7518 §6.3.1.1 requires — a zero-padded `n` would give the same key a second RFC 7638
 * thumbprint (kid), and a size counted on the padded octets is wrong.
 */
export function checkRsaJwk(jwk: JWK): void {
  const n = Buffer.from(typeof jwk.n === "string" ? jwk.n : "", "base64url");
  if (n.length === 0 || n[0] === 0)
    throw new AppError("jwk_invalid", "jwk.n must hold the modulus in its minimal octets, without leading zeros (RFC 7518 §6.3.1.1)", 400);
  const bits = rsaModulusBits(n);
  if (bits < 2048 || bits > 4096) throw new AppError("key_weak", `RSA keys must have 2048–4096 bits (this one has ${bits})`, 400);
}

/** Verify one signature with a public key (an RSA key's size checked first); any failure is jws_invalid_signature. */
export async function verifySignature(jws: FlattenedJws, alg: JwsAlgorithm, jwk: JWK): Promise<void> {
  if (jwk.kty === "RSA") checkRsaJwk(jwk);
  try {
    const key = await importJWK(jwk, alg);
    await flattenedVerify(jws, key, { algorithms: [alg] });
  } catch {
    throw new AppError("jws_invalid_signature", "the JWS signature does not verify", 400);
  }
}

export type VerifiedPayload = { kid: string; header: ProtectedHeader; payload: Record<string, unknown> };

/** A JWS of the user's registered, active key named by `kid`; the decoded payload (nothing consumed yet). */
export async function verifyKeySigned(jws: FlattenedJws, userId: string): Promise<VerifiedPayload> {
  const header = readProtectedHeader(jws);
  if (!header.kid) throw new AppError("jws_kid_missing", "the protected header must name the signing key (kid)", 400);
  if (header.jwk) throw new AppError("jws_header_invalid", "send kid, not jwk, with a registered key", 400);
  // a kid that is no thumbprint names no key (and a NUL in it would fail the look-up)
  const key = KID_PATTERN.test(header.kid)
    ? await db().payloadSigningKey.findUnique({
        where: { userId_kid: { userId, kid: header.kid } },
        select: { kid: true, alg: true, jwk: true, disabledAt: true },
      })
    : null;
  // another user's kid is indistinguishable from an unknown one
  if (!key) throw new AppError("key_unknown", "no payload-signing key with this kid is registered for this user", 403);
  if (key.disabledAt) throw new AppError("key_disabled", "this payload-signing key is disabled", 403);
  if (key.alg !== header.alg) throw new AppError("jws_alg_mismatch", `this key signs with ${key.alg}, not ${header.alg}`, 400);
  await verifySignature(jws, key.alg as JwsAlgorithm, key.jwk as JWK);
  return { kid: key.kid, header, payload: decodePayload(jws) };
}

/** The JSON object a JWS carries (after its signature verified). */
export function decodePayload(jws: FlattenedJws): Record<string, unknown> {
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(jws.payload, "base64url").toString("utf8"));
  } catch {
    throw new AppError("payload_invalid", "the JWS payload must be a JSON object", 400);
  }
  if (!isRecord(payload)) throw new AppError("payload_invalid", "the JWS payload must be a JSON object", 400);
  return payload;
}

/**
 * Spend the payload's nonce under `scope` (the key's kid), then check iat, url and the payload schema.
 * The nonce is stored first and in its own statement, so a refusal below still consumes it.
 */
export async function acceptPayload<S extends z.ZodType>(
  v: { scope: string; header: ProtectedHeader; payload: Record<string, unknown> },
  schema: S,
  url: string | readonly string[],
  now = new Date(),
): Promise<z.output<S>> {
  const nonce = v.payload.nonce;
  if (typeof nonce !== "string" || nonce.length < 16 || nonce.length > 128 || !/^[\x21-\x7e]+$/.test(nonce))
    throw new AppError("nonce_invalid", "the payload needs a nonce: 16–128 printable ASCII characters", 400);
  await consumeNonce(v.scope, nonce);
  const iat = v.payload.iat;
  if (typeof iat !== "number" || !Number.isInteger(iat)) throw new AppError("iat_invalid", "the payload needs iat (unix seconds)", 400);
  if (Math.abs(iat - now.getTime() / 1000) > API_LIMITS.iatSkewSeconds)
    throw new AppError("iat_out_of_range", `iat is more than ${API_LIMITS.iatSkewSeconds} s from the server's clock`, 400);
  checkUrl(v.header, url);
  const parsed = schema.safeParse(v.payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError("payload_invalid", `${issue.path.join(".") || "payload"}: ${issue.message}`, 400);
  }
  return parsed.data;
}

/** A `url` protected header, when present, must name this endpoint (one of its accepted URLs). */
export function checkUrl(header: ProtectedHeader, url: string | readonly string[]): void {
  const urls = typeof url === "string" ? [url] : url;
  if (header.url !== undefined && !urls.includes(header.url))
    throw new AppError("url_mismatch", `the protected header's url must be ${urls[0]}`, 400);
}

/** Store (scope, nonce); a pair seen before is a replay. Nonces are kept well beyond the 600 s SPEC §4 asks. */
export async function consumeNonce(scope: string, nonce: string): Promise<void> {
  try {
    await db().nonce.create({ data: { scope, nonce } });
  } catch (e) {
    if (isUniqueViolation(e)) throw new AppError("nonce_replayed", "this nonce was used before (replay)", 409);
    throw e;
  }
  // spent nonces older than a day are deleted by the scheduled check (lib/data/maintenance/prune.ts)
}

/** RFC 7638 thumbprint (SHA-256, base64url): the kid of a payload-signing key. */
export function thumbprint(jwk: JWK): Promise<string> {
  return calculateJwkThumbprint(jwk, "sha256");
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw malformed("not valid JSON");
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A change a bearer token alone may not make: the body is a JWS by an active payload-signing key of the token's
 * user, with a fresh nonce and iat, naming this endpoint (`url`); its payload validated by `schema`.
 */
export async function signedChange<S extends z.ZodType>(
  userId: string,
  body: string,
  schema: S,
  url: string | readonly string[],
): Promise<z.output<S>> {
  const [jws] = parseJwsBody(body);
  const verified = await verifyKeySigned(jws, userId);
  return acceptPayload({ scope: verified.kid, header: verified.header, payload: verified.payload }, schema, url);
}
