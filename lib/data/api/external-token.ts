// Bearer tokens from an external OIDC issuer (SPEC §4: "An external OIDC issuer (e.g. Cognito) may be configured
// instead; its tokens are verified against its JWKS and mapped to a user by a configured claim"):
//   API_OIDC_ISSUER        the issuer (the tokens' `iss`); its keys from API_OIDC_JWKS_URL, else from its
//                          discovery document's jwks_uri (/.well-known/openid-configuration)
//   API_OIDC_AUDIENCE      required: the token's `aud` — or, for Cognito access tokens, which carry none, its
//                          `client_id` — must name it (tokens the issuer made for other applications are refused)
//   API_OIDC_USER_CLAIM    the claim naming the user (default `email`), matched exactly against the user's
//   API_OIDC_USER_FIELD    `email` (default; the token must also say `email_verified`) or `uid`
// Access tokens only (a Cognito ID token, token_use "id", is refused), at most 24 hours old.
// Asymmetric signatures only (no HS*: the issuer's keys are public), the key chosen by `kid` from the JWKS, which
// is fetched again when a token names a key it does not hold (the issuer rotated). The user is loaded from the
// database on every request, as for our own tokens: disabled, staff or unknown → 401.
import { createRemoteJWKSet, decodeJwt, type JWTPayload, jwtVerify } from "jose";
import { db } from "../../db/client.ts";
import { env } from "../../env.ts";
import { AppError } from "../../errors.ts";
import type { ApiCaller } from "./access-token.ts";

/** Tokens older than this are refused whatever their exp says (the service's own live 15 minutes). */
const MAX_TOKEN_AGE = "24h";
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const invalidToken = (message = "missing, invalid or expired access token") => new AppError("invalid_token", message, 401);

/** The configured issuer, or null: then only the service's own tokens are accepted. */
export function externalIssuer(): string | null {
  return env().API_OIDC_ISSUER?.replace(/\/+$/, "") ?? null;
}

/** The token's issuer, unverified: which verifier to hand it to (each verifies everything itself). */
export function tokenIssuer(token: string): string | null {
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === "string" ? iss.replace(/\/+$/, "") : null;
  } catch {
    return null;
  }
}

type KeySet = ReturnType<typeof createRemoteJWKSet>;
// per issuer and JWKS URL; on globalThis, as the custom server and the Next.js bundle load this module separately
const g = globalThis as unknown as { __pssJwks?: Map<string, Promise<KeySet>> };

/** How long a failed discovery is remembered: while the issuer is down, tokens do not each start a fetch. */
const FAILED_DISCOVERY_MS = 30_000;

async function discoverJwks(issuer: string): Promise<URL> {
  const res = await fetch(`${issuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5_000), redirect: "error" });
  if (!res.ok) throw new Error(`discovery answered ${res.status}`);
  const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (typeof doc.issuer !== "string" || doc.issuer.replace(/\/+$/, "") !== issuer) throw new Error("discovery names another issuer");
  if (typeof doc.jwks_uri !== "string") throw new Error("discovery has no jwks_uri");
  const url = new URL(doc.jwks_uri);
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) throw new Error("jwks_uri is not https");
  return url;
}

function keySet(issuer: string): Promise<KeySet> {
  const configured = env().API_OIDC_JWKS_URL;
  const key = `${issuer} ${configured ?? ""}`;
  g.__pssJwks ??= new Map();
  const sets = g.__pssJwks;
  let set = sets.get(key);
  if (!set) {
    set = (configured ? Promise.resolve(new URL(configured)) : discoverJwks(issuer)).then((url) =>
      createRemoteJWKSet(url, { timeoutDuration: 5_000, cooldownDuration: 10_000, cacheMaxAge: 10 * 60_000 }),
    );
    sets.set(key, set);
    // a failed discovery is tried again after a while, not by every request meanwhile
    set.catch(() => setTimeout(() => sets.delete(key), FAILED_DISCOVERY_MS).unref());
  }
  return set;
}

function audienceMatches(payload: JWTPayload, audience: string): boolean {
  const aud = payload.aud;
  if (aud !== undefined) return Array.isArray(aud) ? aud.includes(audience) : aud === audience;
  return payload.client_id === audience;
}

/** Verify a token of the external issuer and load the customer user it names. 401 invalid_token on any doubt. */
export async function externalCaller(token: string, issuer: string): Promise<ApiCaller> {
  const e = env();
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, await keySet(issuer), {
      algorithms: ALGORITHMS,
      issuer: [issuer, `${issuer}/`],
      requiredClaims: ["exp", "iat"],
      maxTokenAge: MAX_TOKEN_AGE,
      clockTolerance: 5,
    }));
  } catch {
    throw invalidToken();
  }
  // the issuer's tokens for this API only: not another application's, and not ID tokens (Cognito's token_use)
  if (!e.API_OIDC_AUDIENCE || !audienceMatches(payload, e.API_OIDC_AUDIENCE))
    throw invalidToken("the access token is for another audience");
  if (payload.token_use !== undefined && payload.token_use !== "access") throw invalidToken("not an access token");
  const value = payload[e.API_OIDC_USER_CLAIM];
  if (typeof value !== "string" || value === "" || value.length > 320)
    throw invalidToken(`the access token has no ${e.API_OIDC_USER_CLAIM} claim`);
  // an address the issuer has not verified names nobody: with self sign-up anyone could claim anyone's
  if (e.API_OIDC_USER_FIELD === "email" && payload.email_verified !== true && payload.email_verified !== "true")
    throw invalidToken("the access token's email is not verified");
  // an exact match only (emails are stored lowercased): a pattern in the claim matches nothing
  const user = await db().user.findUnique({
    where: e.API_OIDC_USER_FIELD === "uid" ? { uid: value } : { email: value.toLowerCase() },
    select: { id: true, uid: true, role: true, customerId: true, disabledAt: true },
  });
  if (!user || user.disabledAt || !user.customerId || user.role === "STAFF")
    throw invalidToken("the access token names no customer user of this service");
  return {
    // rate limits and audit per user: an external token has no client of ours
    clientId: `oidc:${user.uid}`,
    customerId: user.customerId,
    user: { id: user.id, uid: user.uid, role: user.role },
    actor: { type: "user", id: user.id, customerId: user.customerId },
  };
}
