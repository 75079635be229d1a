// OAuth 2.0 client credentials (RFC 6749 §4.4) and the bearer check every other endpoint starts with.
// Access tokens are JWTs (RFC 9068 typ "at+jwt"), HS256 under a key derived from the auth secret, so every
// app process that shares NEXTAUTH_SECRET (mandatory with PostgreSQL) verifies every other's tokens.
import { createHash, hkdfSync, randomUUID } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";
import { authSecret } from "../../auth/secret.ts";
import { db } from "../../db/client.ts";
import { env } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { API_LIMITS } from "../../validations/api.ts";
import { type Actor, auditRefusalOnce } from "../audit/record.ts";
import { clientSecretMatches } from "../clients/secrets.ts";
import { externalCaller, externalIssuer, tokenIssuer } from "./external-token.ts";
import { limitClient, limitEach, type RateLimitKind } from "./rate-limit.ts";

export const TOKEN_AUDIENCE = "pss-api";
const TOKEN_TYPE = "at+jwt";

/** An RFC 6749 §5.2 error of the token endpoint: `code` is the `error` value. */
export class OAuthError extends AppError {
  constructor(code: "invalid_request" | "invalid_client" | "unsupported_grant_type" | "invalid_scope", message: string, status = 400) {
    super(code, message, status);
    this.name = "OAuthError";
  }
}

export function isOAuthError(e: unknown): e is OAuthError {
  return e instanceof OAuthError;
}

const g = globalThis as unknown as { __pssTokenKey?: Uint8Array };

function tokenKey(): Uint8Array {
  g.__pssTokenKey ??= new Uint8Array(hkdfSync("sha256", authSecret(), "pss", "pss api access token v1", 32));
  return g.__pssTokenKey;
}

/**
 * The `sgen` claim: which secret of its client a token was issued with, as a digest of the stored secret hash
 * (never the hash itself; the holder can read its token). requireBearer accepts a token only while it equals the
 * client's current one, so a rotation cuts off every token of the replaced secret exactly — whatever second it was
 * issued in, and even when its request read the old secret before the rotation committed.
 */
function secretGeneration(secretHash: string): string {
  return createHash("sha256").update("pss access token secret generation\0").update(secretHash).digest("base64url").slice(0, 22);
}

/** `secretHash`: the client's stored secret hash the token is issued under; a token without it is refused. */
export type AccessTokenClaims = { sub: string; customerId: string; clientId: string; secretHash?: string };

/** Sign an access token (exported for tests, which also need expired ones). */
export async function signAccessToken(claims: AccessTokenClaims, now = new Date(), ttlSeconds: number = API_LIMITS.tokenTtlSeconds) {
  const iat = Math.floor(now.getTime() / 1000);
  const sgen = claims.secretHash === undefined ? {} : { sgen: secretGeneration(claims.secretHash) };
  return new SignJWT({ customer_id: claims.customerId, client_id: claims.clientId, ...sgen })
    .setProtectedHeader({ alg: "HS256", typ: TOKEN_TYPE })
    .setIssuer(env().publicUrl)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(claims.sub)
    .setJti(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttlSeconds)
    .sign(tokenKey());
}

/** The client ids we issue: `pss_` and 24 hex digits. */
const ISSUED_CLIENT_ID = /^pss_[0-9a-f]{24}$/;

/**
 * How a refused token request's unknown client id is recorded: as sent only in the shape we issue (lib/data/clients/
 * secrets.ts), else "unknown" — a script that swapped the fields would otherwise put its client secret in the audit log.
 */
export function refusedClientId(clientId: string | undefined): string {
  return clientId !== undefined && ISSUED_CLIENT_ID.test(clientId) ? clientId : "unknown";
}

export type TokenRequest = { grantType?: string; clientId?: string; clientSecret?: string; ip?: string };

/**
 * Audit a refused token request: the first refusal per known client, or per minute for all unknown client ids
 * together, is written each minute; the rest are only counted. Neither made-up client ids nor a flood of wrong
 * secrets can grow the audit log without bound.
 */
function auditTokenRefusal(client: { clientId: string; customerId: string } | null, req: TokenRequest): Promise<void> {
  return auditRefusalOnce(
    `token:${client ? `client:${client.clientId}` : "unknown-client"}`,
    { type: "client", id: client?.clientId ?? refusedClientId(req.clientId), customerId: client?.customerId ?? "" },
    { action: "api.token", customerId: client?.customerId ?? null, ...(req.ip ? { ip: req.ip } : {}) },
  );
}

/** The token endpoint's use case: client id/secret → a short-lived bearer JWT. */
export async function issueAccessToken(req: TokenRequest) {
  if (req.grantType !== "client_credentials") {
    if (!req.grantType) throw new OAuthError("invalid_request", "grant_type is required");
    throw new OAuthError("unsupported_grant_type", "only grant_type=client_credentials is supported");
  }
  if (!req.clientId || !req.clientSecret) throw new OAuthError("invalid_client", "client authentication is required", 401);
  const client = await db().oAuthClient.findUnique({
    where: { clientId: req.clientId.slice(0, 200) },
    select: {
      clientId: true,
      secretHash: true,
      customerId: true,
      disabledAt: true,
      user: { select: { uid: true, disabledAt: true, customerId: true, role: true } },
    },
  });
  const ok =
    client &&
    !client.disabledAt &&
    !client.user.disabledAt &&
    client.user.customerId === client.customerId &&
    clientSecretMatches(req.clientSecret, client.secretHash);
  if (!ok || !client) {
    await auditTokenRefusal(client, req);
    throw new OAuthError("invalid_client", "unknown client or wrong secret", 401);
  }
  // Only tokens issued count against the client: a stranger who knows a client id cannot lock its owner out
  // with wrong secrets, and guessing a 256-bit secret needs no throttle.
  await limitClient("token", client.clientId);
  // Only while the secret verified is still the client's (and it is not disabled): a rotation or disabling that
  // committed since the read answers invalid_client here rather than with a token requireBearer would refuse.
  const { count } = await db().oAuthClient.updateMany({
    where: { clientId: client.clientId, secretHash: client.secretHash, disabledAt: null },
    data: { lastUsedAt: new Date() },
  });
  if (count === 0) {
    await auditTokenRefusal(client, req);
    throw new OAuthError("invalid_client", "unknown client or wrong secret", 401);
  }
  const accessToken = await signAccessToken({
    sub: client.user.uid,
    customerId: client.customerId,
    clientId: client.clientId,
    secretHash: client.secretHash,
  });
  return { access_token: accessToken, token_type: "Bearer" as const, expires_in: API_LIMITS.tokenTtlSeconds };
}

/** Who is calling the API: the client, its user and customer (from the database, never from the token alone). */
export type ApiCaller = {
  clientId: string;
  customerId: string;
  user: { id: string; uid: string; role: "CUSTOMER_ADMIN" | "CUSTOMER_VIEWER" };
  actor: Actor;
};

const invalidToken = (message = "missing, invalid or expired access token") => new AppError("invalid_token", message, 401);

const READS = new Set(["GET", "HEAD"]);

/** The limits of RATE_LIMITS a use case counts itself, after its own checks (the portal calls the same use cases). */
export type OwnLimit = Extract<RateLimitKind, "issue" | "batch" | "keys">;

/**
 * Verify the bearer token of a request and load its client, user and customer. Fails closed: any doubt
 * (bad signature, wrong issuer/audience/type, expired, disabled client or user, moved user) is 401 invalid_token.
 * With API_OIDC_ISSUER, that issuer's tokens are accepted too (external-token.ts).
 *
 * Then the request counts against its user's limit and, in the same upsert, its client's read (GET) or change
 * limit: a leaked token or a runaway script looping revokes or resets (each reissues a CRL) gets 429. A route whose
 * use case counts a limit of its own names it as `ownLimit` and counts against that one instead, so no request
 * counts twice for its client, and bootstrap issuance keeps its 600/min rather than the 120 changes/min.
 */
export async function requireBearer(req: Request, opts: { ownLimit?: OwnLimit } = {}): Promise<ApiCaller> {
  const caller = await bearerCaller(req);
  callers.set(req, caller);
  const client: [RateLimitKind, string][] = opts.ownLimit ? [] : [[READS.has(req.method) ? "read" : "change", caller.clientId]];
  await limitEach([...client, ["user", caller.user.uid]]);
  return caller;
}

// who made a request, once its token verified: for the audit of a refusal that comes later (lib/api/http.ts)
const callers = new WeakMap<Request, ApiCaller>();

/** The caller requireBearer established for this request, if it got that far. */
export function authenticatedCaller(req: Request): ApiCaller | undefined {
  return callers.get(req);
}

async function bearerCaller(req: Request): Promise<ApiCaller> {
  const header = req.headers.get("authorization") ?? "";
  const m = /^Bearer ([A-Za-z0-9_.~+/-]+=*)$/i.exec(header.trim());
  if (!m) throw invalidToken();
  // a token of the configured external OIDC issuer is verified against its keys (external-token.ts)
  const external = externalIssuer();
  if (external && tokenIssuer(m[1]) === external) return externalCaller(m[1], external);
  let claims: { sub?: string; customer_id?: unknown; client_id?: unknown; sgen?: unknown };
  try {
    ({ payload: claims } = await jwtVerify(m[1], tokenKey(), {
      algorithms: ["HS256"],
      issuer: env().publicUrl,
      audience: TOKEN_AUDIENCE,
      typ: TOKEN_TYPE,
      requiredClaims: ["sub", "exp", "iat", "sgen"],
      clockTolerance: 5,
    }));
  } catch {
    throw invalidToken();
  }
  if (typeof claims.client_id !== "string" || typeof claims.customer_id !== "string" || !claims.sub) throw invalidToken();
  const client = await db().oAuthClient.findUnique({
    where: { clientId: claims.client_id },
    select: {
      clientId: true,
      customerId: true,
      disabledAt: true,
      secretHash: true,
      user: { select: { id: true, uid: true, role: true, customerId: true, disabledAt: true } },
    },
  });
  if (
    !client ||
    client.disabledAt ||
    client.user.disabledAt ||
    client.customerId !== claims.customer_id ||
    client.user.customerId !== client.customerId ||
    client.user.uid !== claims.sub ||
    client.user.role === "STAFF" ||
    // a token of a secret a rotation replaced, however close to the rotation it was issued
    claims.sgen !== secretGeneration(client.secretHash)
  ) {
    throw invalidToken();
  }
  const role = client.user.role;
  return {
    clientId: client.clientId,
    customerId: client.customerId,
    user: { id: client.user.id, uid: client.user.uid, role },
    actor: { type: "client", id: client.clientId, customerId: client.customerId },
  };
}

/** Mutations need a customer admin's client; viewers may read. */
export function requireAdmin(caller: ApiCaller): void {
  if (caller.user.role !== "CUSTOMER_ADMIN") throw new AppError("forbidden", "this client's user may only read", 403);
}
