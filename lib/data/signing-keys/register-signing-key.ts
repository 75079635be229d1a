// Register a payload-signing key with proof of possession (SPEC §4): the body is a JWS signed by the key
// itself, its public JWK in the protected header, payload {nonce, iat}. The user's first key needs only the
// bearer token; any further key must also be signed by one of the user's active keys (a second signature over
// the same payload, general JSON serialization, `kid` header) — a stolen client secret alone adds no key.
import type { JWK } from "jose";
import { db } from "../../db/client.ts";
import { AppError, isUniqueViolation } from "../../errors.ts";
import { metrics } from "../../metrics.ts";
import { type JwsAlgorithm, keyRegistrationPayloadSchema } from "../../validations/api.ts";
import { type ApiCaller, requireAdmin } from "../api/access-token.ts";
import { limitClient } from "../api/rate-limit.ts";
import {
  acceptPayload,
  checkRsaJwk,
  checkUrl,
  consumeNonce,
  decodePayload,
  type FlattenedJws,
  parseJwsBody,
  readProtectedHeader,
  thumbprint,
  verifyKeySigned,
  verifySignature,
} from "../api/signed-payload.ts";
import { audit, markAudited } from "../audit/record.ts";
import { lockActiveSigningKey } from "./disable-signing-key.ts";

export type RegisterSigningKeyInput = {
  caller: ApiCaller;
  /** the raw request body */
  body: string;
  /** this endpoint's URL(s) (the `url` header, when present, must equal one) */
  url: string | readonly string[];
  ip?: string;
  /**
   * Set ONLY by the portal after the signed-in customer admin entered their password again (SPEC §4): stands
   * in for an existing key's co-signature. Never derived from the request body.
   */
  reauthenticated?: boolean;
};

export type RegisteredKey = { kid: string; alg: JwsAlgorithm; jwk: JWK; createdAt: string; disabledAt: null };

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/** The public members of a JWK that fits `alg` (SPEC §4 key policy, §7 weak keys); anything else is refused. */
export function publicJwkFor(alg: JwsAlgorithm, raw: Record<string, unknown>): JWK {
  if (PRIVATE_MEMBERS.some((m) => m in raw)) throw new AppError("jwk_private", "the jwk header must hold a public key only", 400);
  const str = (k: string) => {
    const v = raw[k];
    if (typeof v !== "string" || !/^[A-Za-z0-9_-]+$/.test(v)) throw new AppError("jwk_invalid", `jwk.${k} must be base64url`, 400);
    return v;
  };
  const mismatch = () => new AppError("jwk_alg_mismatch", `a ${alg} signature needs a ${EXPECTED[alg]} key`, 400);
  switch (alg) {
    case "ES256":
    case "ES384": {
      const crv = alg === "ES256" ? "P-256" : "P-384";
      if (raw.kty !== "EC" || raw.crv !== crv) throw mismatch();
      const len = alg === "ES256" ? 32 : 48;
      const [x, y] = [str("x"), str("y")];
      if (Buffer.from(x, "base64url").length !== len || Buffer.from(y, "base64url").length !== len)
        throw new AppError("jwk_invalid", "jwk coordinates have the wrong length", 400);
      return { kty: "EC", crv, x, y };
    }
    case "EdDSA": {
      if (raw.kty !== "OKP" || raw.crv !== "Ed25519") throw mismatch();
      const x = str("x");
      if (Buffer.from(x, "base64url").length !== 32) throw new AppError("jwk_invalid", "jwk.x has the wrong length", 400);
      return { kty: "OKP", crv: "Ed25519", x };
    }
    case "RS256": {
      if (raw.kty !== "RSA") throw mismatch();
      const [n, e] = [str("n"), str("e")];
      checkRsaJwk({ kty: "RSA", n, e });
      if (e !== "AQAB") throw new AppError("key_weak", "RSA keys must use the public exponent 65537", 400);
      return { kty: "RSA", n, e };
    }
  }
}

const EXPECTED: Record<JwsAlgorithm, string> = { ES256: "EC P-256", ES384: "EC P-384", EdDSA: "OKP Ed25519", RS256: "RSA" };

/** Register a key; refusals store nothing but the consumed nonce and a refused audit event. */
export async function registerSigningKey(input: RegisterSigningKeyInput): Promise<RegisteredKey> {
  const { caller } = input;
  let kid: string | undefined;
  try {
    requireAdmin(caller);
    await limitClient("keys", caller.clientId);
    const sigs = parseJwsBody(input.body, { allowGeneral: true });
    const headers = sigs.map(readProtectedHeader);
    const popIndex = headers.findIndex((h) => h.jwk !== undefined);
    if (popIndex < 0) throw new AppError("jwk_missing", "the protected header must carry the new public key (jwk)", 400);
    if (headers.filter((h) => h.jwk !== undefined).length > 1)
      throw new AppError("jws_malformed", "malformed JWS: only one signature may carry a jwk", 400);
    const popHeader = headers[popIndex];
    const jwk = publicJwkFor(popHeader.alg, popHeader.jwk as Record<string, unknown>);
    kid = await thumbprint(jwk);
    if (popHeader.kid !== undefined && popHeader.kid !== kid)
      throw new AppError("jws_header_invalid", "the kid next to a jwk must be its RFC 7638 thumbprint", 400);
    await verifySignature(sigs[popIndex], popHeader.alg, jwk);
    const authorizing: FlattenedJws | undefined = sigs.find((_, i) => i !== popIndex);
    // the signature verified: from here on the nonce is spent whatever happens
    await acceptPayload({ scope: kid, header: popHeader, payload: decodePayload(sigs[popIndex]) }, keyRegistrationPayloadSchema, input.url);
    const authorizedBy = authorizing ? (await verifyKeySigned(authorizing, caller.user.id)).kid : null;
    if (authorizing && authorizedBy) {
      checkUrl(readProtectedHeader(authorizing), input.url);
      // The existing key's signature must be about THIS new key, and usable once: otherwise a captured
      // signature over some other {nonce, iat} payload could vouch for an attacker's key.
      const payload = decodePayload(sigs[popIndex]);
      if (payload.newKid !== kid)
        throw new AppError("payload_invalid", "a registration signed by an existing key must name the new key's thumbprint in newKid", 400);
      await consumeNonce(`authorize:${authorizedBy}`, String(payload.nonce));
    }
    const alg = popHeader.alg;
    const newKid = kid;
    const row = await db().$transaction(async (tx) => {
      // one registration per user at a time: the "is this the first key?" answer must not race
      await tx.$queryRaw`SELECT id FROM "User" WHERE id = ${caller.user.id}::uuid FOR UPDATE`;
      // the key that vouches for the new one is still active: one disabled meanwhile adds no successor
      if (authorizedBy) await lockActiveSigningKey(tx, caller.user.id, authorizedBy);
      // "The first key" is the user's first ever: had disabling every key made the next one a first key again,
      // a stolen client secret alone could disable the user's keys and add its own (SPEC §4).
      const held = await tx.payloadSigningKey.count({ where: { userId: caller.user.id } });
      if (held > 0 && !authorizedBy && !input.reauthenticated)
        throw new AppError(
          "key_authorization_required",
          "this user has registered a key before: sign the registration with an active key too (general JSON serialization, kid header), or add the key in the portal",
          403,
        );
      const created = await tx.payloadSigningKey.create({
        data: { kid: newKid, alg, jwk: jwk as object, userId: caller.user.id, customerId: caller.customerId },
        select: { kid: true, createdAt: true },
      });
      await audit(tx, caller.actor, {
        action: "signing_key.register",
        customerId: caller.customerId,
        target: `signing_key:${newKid}`,
        details: {
          alg,
          uid: caller.user.uid,
          authorizedBy: authorizedBy ? `key:${authorizedBy}` : input.reauthenticated ? "portal re-authentication" : "bearer (first key)",
        },
        ...(input.ip ? { ip: input.ip } : {}),
      });
      return created;
    });
    return { kid: row.kid, alg, jwk, createdAt: row.createdAt.toISOString(), disabledAt: null };
  } catch (e) {
    const err = isUniqueViolation(e) ? new AppError("key_exists", "this key is already registered for this user", 409) : e;
    if (err instanceof AppError) {
      markAudited(err);
      metrics.refusals.inc({ code: err.code });
      await audit(null, caller.actor, {
        action: "signing_key.register",
        outcome: "refused",
        customerId: caller.customerId,
        ...(kid ? { target: `signing_key:${kid}` } : {}),
        details: { code: err.code, message: err.message, uid: caller.user.uid },
        ...(input.ip ? { ip: input.ip } : {}),
      }).catch(() => {});
    }
    throw err;
  }
}
