// The customer API over real HTTP (the route handlers behind a Node server): token, payload-signing keys,
// bootstrapping certificates, and the hostile cases of SPEC §4/§7 — each asserting status, error code and that
// nothing but the consumed nonce and the audit record was stored.
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dbLabel, freshWindow, testDb, unique } from "../../../tests/db.ts";
import { errorResponse } from "../../api/http.ts";
import { freshClaims, kidOf, publicJwk, signKeyRegistration, signPayload } from "../../api/sign.ts";
import { type ApiServer, csrPem, ecKey, publicUrl, startApiServer, type TestTenant, tenant } from "../../api/testing/api-server.ts";
import { env } from "../../env.ts";
import { log } from "../../log.ts";
import { createCsr } from "../../pki/csr.ts";
import { boolean, sequence, toPem } from "../../pki/der.ts";
import { encodeGeneralNames } from "../../pki/names.ts";
import { opensslAsync, scratchDir } from "../../pki/testing/ca-fixture.ts";
import { auditRow } from "../audit/record.ts";
import { ensureHierarchy } from "../ca/hierarchy.ts";
import { refusedClientId, signAccessToken } from "./access-token.ts";
import { currentWindowCount, hitRateLimit, hitRateLimitShedding, RATE_LIMITS, RateLimitedError, SHED_MS } from "./rate-limit.ts";

vi.mock("server-only", () => ({}));

const db = testDb();
let api: ApiServer;
let a: TestTenant;
let b: TestTenant;
const BOOT = "/api/v1/bootstrap-certificates";
const KEYS = "/api/v1/payload-signing-keys";

beforeAll(async () => {
  await ensureHierarchy({ type: "system", id: "test" });
  api = await startApiServer();
  a = await tenant(api, unique("Acme API").replace(/-/g, " "));
  b = await tenant(api, unique("Globex API").replace(/-/g, " "));
});
afterAll(() => api?.close());

type Sent = { status: number; body: Record<string, unknown>; headers: Headers };

async function send(
  path: string,
  init: { method?: string; token?: string | null; body?: string; type?: string; headers?: Record<string, string> } = {},
): Promise<Sent> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? a.token}`;
  if (init.body !== undefined) headers["content-type"] = init.type ?? "application/jose+json";
  const res = await fetch(`${api.url}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    body: init.body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
}

async function bootstrapBody(t: TestTenant = a, extra: Record<string, unknown> = {}, opts: { compact?: boolean; url?: string } = {}) {
  return signPayload(t.key, { csr: csrPem(), ...freshClaims(), ...extra }, { url: opts.url ?? publicUrl(BOOT), compact: opts.compact });
}

/** What a refusal must not create. */
async function counts(t: TestTenant = a) {
  const [certificates, keys, devices, policies] = await Promise.all([
    db.certificate.count({ where: { customerId: t.customerId } }),
    db.payloadSigningKey.count({ where: { customerId: t.customerId } }),
    db.device.count({ where: { customerId: t.customerId } }),
    db.enrollmentPolicy.count({ where: { customerId: t.customerId } }),
  ]);
  return { certificates, keys, devices, policies };
}

/** Send, expect the refusal, and check that nothing was written for either tenant. */
async function refused(status: number, code: string, path: string, init: Parameters<typeof send>[1]) {
  const before = [await counts(a), await counts(b)];
  const r = await send(path, init);
  expect({ status: r.status, code: (r.body.error as { code?: string })?.code ?? r.body.error }).toEqual({ status, code });
  expect([await counts(a), await counts(b)]).toEqual(before);
  return r;
}

/** Set `key`'s count in the current minute (call freshWindow first, so the requests that follow fall in that minute). */
async function fillBucket(key: string, count: number) {
  const windowStart = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  await db.rateLimitBucket.upsert({
    where: { key_windowStart: { key, windowStart } },
    create: { key, windowStart, count },
    update: { count },
  });
}

/** A 429 in the shape of every other error, with the seconds to wait. */
function expectRateLimited(r: Sent) {
  expect([r.status, (r.body.error as { code?: string })?.code]).toEqual([429, "rate_limited"]);
  expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
}

const b64 = (v: unknown) => Buffer.from(typeof v === "string" ? v : JSON.stringify(v)).toString("base64url");

/** A JWS built by hand (for algorithms and keys jose refuses to produce). */
function rawJws(header: Record<string, unknown>, payload: unknown, key?: KeyObject, dsa?: "ieee-p1363"): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const sig = key
    ? sign(key.asymmetricKeyType === "ed25519" ? null : "sha256", Buffer.from(input), { key, ...(dsa ? { dsaEncoding: dsa } : {}) })
    : Buffer.from("not a signature");
  return JSON.stringify({ protected: b64(header), payload: b64(payload), signature: sig.toString("base64url") });
}

describe(`customer API: token (${dbLabel()})`, () => {
  it("issues a short-lived JWT with HTTP Basic or form credentials", async () => {
    const basic = await fetch(`${api.url}/api/v1/oauth/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${a.clientId}:${a.clientSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    expect(basic.status).toBe(200);
    expect(basic.headers.get("cache-control")).toBe("no-store");
    const body = (await basic.json()) as { access_token: string; token_type: string; expires_in: number };
    expect(body.token_type).toBe("Bearer");
    expect(body.expires_in).toBeLessThanOrEqual(900);
    const claims = JSON.parse(Buffer.from(body.access_token.split(".")[1], "base64url").toString());
    expect(claims).toMatchObject({ sub: a.uid, customer_id: a.customerId, client_id: a.clientId });
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(900);
  });

  it.each([
    ["wrong secret", { grant_type: "client_credentials", client_id: "x", client_secret: "y" }, 401, "invalid_client"],
    ["no credentials", { grant_type: "client_credentials" }, 401, "invalid_client"],
    ["unsupported grant", { grant_type: "password", client_id: "x", client_secret: "y" }, 400, "unsupported_grant_type"],
    ["missing grant", { client_id: "x", client_secret: "y" }, 400, "invalid_request"],
  ])("refuses %s with RFC 6749 §5.2 errors", async (_name, form, status, error) => {
    const res = await fetch(`${api.url}/api/v1/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form as Record<string, string>),
    });
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toBe(error);
  });

  it("refuses a wrong secret of a real client id, and a JSON body", async () => {
    const res = await fetch(`${api.url}/api/v1/oauth/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${a.clientId}:not-it`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Basic");
    const json = await fetch(`${api.url}/api/v1/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ grant_type: "client_credentials", client_id: a.clientId, client_secret: a.clientSecret }),
    });
    expect(json.status).toBe(400);
    expect(await json.json()).toMatchObject({ error: "invalid_request" });
  });

  it("rate-limits the token endpoint per client (429 + Retry-After)", async () => {
    const c = await tenant(api, unique("Limited").replace(/-/g, " "));
    await freshWindow();
    await fillBucket(`token:${c.clientId}`, 10_000);
    const res = await fetch(`${api.url}/api/v1/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: c.clientId, client_secret: c.clientSecret }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("rate-limits registering and disabling payload-signing keys per client (429 + Retry-After, nothing written)", async () => {
    const c = await tenant(api, unique("Key Flood").replace(/-/g, " "));
    await freshWindow();
    await fillBucket(`keys:${c.clientId}`, RATE_LIMITS.keys[0]);
    const before = await counts(c);
    expectRateLimited(
      await send(KEYS, { token: c.token, body: await signKeyRegistration(ecKey(), { authorizer: c.key, url: publicUrl(KEYS) }) }),
    );
    expectRateLimited(await send(`${KEYS}/${c.kid}`, { token: c.token, method: "DELETE" }));
    expect(await counts(c)).toEqual(before);
    expect((await db.payloadSigningKey.findFirstOrThrow({ where: { kid: c.kid } })).disabledAt).toBeNull();
  });

  it("wrong secrets neither lock a client's owner out nor write an audit row each; made-up client ids leave no rows", async () => {
    const c = await tenant(api, unique("Guessed").replace(/-/g, " "));
    const tokenRequest = (client_id: string, client_secret: string) =>
      fetch(`${api.url}/api/v1/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "client_credentials", client_id, client_secret }),
      });
    const since = new Date();
    for (let i = 0; i < RATE_LIMITS.token[0] + 10; i++) expect((await tokenRequest(c.clientId, `wrong-${i}`)).status).toBe(401);
    expect((await tokenRequest(c.clientId, c.clientSecret)).status).toBe(200);
    // one row per client and minute (two if the loop crossed a minute)
    const rows = await db.auditEvent.count({ where: { action: "api.token", outcome: "refused", actorId: c.clientId, at: { gte: since } } });
    expect(rows).toBeGreaterThanOrEqual(1);
    expect(rows).toBeLessThanOrEqual(2);
    const madeUp = unique("pss_madeup");
    expect((await tokenRequest(madeUp, "x")).status).toBe(401);
    expect(await db.rateLimitBucket.count({ where: { key: { contains: madeUp } } })).toBe(0);
    // an unknown client's refusal is audited without a customer (it once failed on its empty customer id)
    expect(auditRow({ type: "client", id: madeUp, customerId: "" }, { action: "api.token", customerId: null }).customerId).toBeNull();
    // fields swapped by a script: the secret sent as client_id is recorded as "unknown", never as sent
    expect((await tokenRequest(c.clientSecret, c.clientId)).status).toBe(401);
    expect(refusedClientId(c.clientSecret)).toBe("unknown");
    expect(refusedClientId(c.clientId)).toBe(c.clientId);
    expect(refusedClientId(undefined)).toBe("unknown");
  });

  it("counts a fixed window atomically in the database", async () => {
    const key = unique("rl");
    const now = new Date();
    await Promise.all([hitRateLimit(key, 3, 60, now), hitRateLimit(key, 3, 60, now), hitRateLimit(key, 3, 60, now)]);
    const err = await hitRateLimit(key, 3, 60, now).catch((e) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    const res = errorResponse(err);
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
    await hitRateLimit(key, 3, 60, new Date(now.getTime() + 60_000)); // the next window starts over
  });

  it("sheds a key over its limit without counting for SHED_MS, then asks the database again (a raised limit holds)", async () => {
    const key = unique("shed");
    const t0 = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 5_000);
    const at = (ms: number) => new Date(t0.getTime() + ms);
    const count = async () =>
      (await db.rateLimitBucket.findUniqueOrThrow({ where: { key_windowStart: { key, windowStart: new Date(t0.getTime() - 5_000) } } }))
        .count;
    await hitRateLimitShedding(key, 1, 60, t0);
    const over = await hitRateLimitShedding(key, 1, 60, at(10)).catch((e) => e);
    expect(over).toBeInstanceOf(RateLimitedError);
    expect(over.retryAfterSeconds).toBe(55);
    // shed: refused in the process, not counted, whatever the limit is now
    await expect(hitRateLimitShedding(key, 100, 60, at(SHED_MS))).rejects.toBeInstanceOf(RateLimitedError);
    expect(await count()).toBe(2);
    // after SHED_MS the database decides again: under a raised limit the key is let through
    await hitRateLimitShedding(key, 100, 60, at(SHED_MS + 20));
    expect(await count()).toBe(3);
  });
});

describe(`customer API: every authenticated request is rate-limited (${dbLabel()})`, () => {
  const json = (body: unknown) => ({ body: JSON.stringify(body), type: "application/json" });

  it("a read counts against its client's read limit: over it GET /devices answers 429; changes are counted apart", async () => {
    const c = await tenant(api, unique("Reader").replace(/-/g, " "));
    await freshWindow();
    await fillBucket(`read:${c.clientId}`, RATE_LIMITS.read[0]);
    expectRateLimited(await send("/api/v1/devices", { token: c.token }));
    expectRateLimited(await send("/api/v1/enrollment-policy", { token: c.token }));
    // a change draws on the change limit: it gets as far as finding no such certificate
    expect((await send("/api/v1/certificates/0abc/revoke", { token: c.token, ...json({}) })).status).toBe(404);
  });

  it("a change counts against its client's change limit: over it a revoke or reset answers 429 and writes nothing but its count", async () => {
    const c = await tenant(api, unique("Revoker").replace(/-/g, " "));
    const serial = (await send(BOOT, { token: c.token, body: await bootstrapBody(c) })).body.serial as string;
    await freshWindow();
    await fillBucket(`change:${c.clientId}`, RATE_LIMITS.change[0]);
    const before = await counts(c);
    const since = new Date();
    expectRateLimited(await send(`/api/v1/certificates/${serial}/revoke`, { token: c.token, ...json({ reason: "keyCompromise" }) }));
    expectRateLimited(await send(`${BOOT}/${serial}/revoke`, { token: c.token, ...json({ reason: "keyCompromise" }) }));
    expectRateLimited(await send("/api/v1/devices/meter-1/reset", { token: c.token, ...json({ reason: "superseded" }) }));
    expect((await db.certificate.findUniqueOrThrow({ where: { serial } })).revokedAt).toBeNull();
    expect(await counts(c)).toEqual(before);
    // one audit event for the three refusals: once per caller, code and minute
    expect(await db.auditEvent.findMany({ where: { actorId: c.clientId, at: { gte: since } } })).toEqual([
      expect.objectContaining({
        action: "api.request",
        outcome: "refused",
        customerId: c.customerId,
        details: { code: "rate_limited", status: 429 },
      }),
    ]);
    expect(await currentWindowCount(`change:${c.clientId}`, 60)).toBe(RATE_LIMITS.change[0] + 3);
    // reads go on
    expect((await send(`/api/v1/certificates/${serial}`, { token: c.token })).status).toBe(200);
  });

  it("each request counts once for its client (issuance and keys against their own limits) and once for its user", async () => {
    await freshWindow();
    const c = await tenant(api, unique("Counted").replace(/-/g, " ")); // its first key: keys and user
    const serial = (await send(BOOT, { token: c.token, body: await bootstrapBody(c) })).body.serial as string;
    expect((await send("/api/v1/devices", { token: c.token })).status).toBe(200);
    expect((await send(`/api/v1/certificates/${serial}/revoke`, { token: c.token, ...json({}) })).status).toBe(200);
    const count = (kind: keyof typeof RATE_LIMITS) => currentWindowCount(`${kind}:${kind === "user" ? c.uid : c.clientId}`, 60);
    const kinds = ["read", "change", "issue", "keys", "user"] as const;
    expect(Object.fromEntries(await Promise.all(kinds.map(async (k) => [k, await count(k)])))).toEqual({
      read: 1,
      change: 1,
      issue: 1,
      keys: 1,
      user: 4,
    });
  });

  it("the user's limit holds whichever limit the client has left: over it reads, changes and issuance answer 429", async () => {
    const c = await tenant(api, unique("Busy User").replace(/-/g, " "));
    await freshWindow();
    await fillBucket(`user:${c.uid}`, RATE_LIMITS.user[0]);
    const before = await counts(c);
    expectRateLimited(await send("/api/v1/devices", { token: c.token }));
    expectRateLimited(await send("/api/v1/certificates/0abc/revoke", { token: c.token, ...json({}) }));
    expectRateLimited(await send(BOOT, { token: c.token, body: await bootstrapBody(c) }));
    expect(await counts(c)).toEqual(before);
  });
});

describe(`customer API: bearer tokens fail closed (${dbLabel()})`, () => {
  const expired = () => signAccessToken({ sub: a.uid, customerId: a.customerId, clientId: a.clientId }, new Date(Date.now() - 3600_000));
  it.each([
    ["no Authorization header", async () => null],
    ["a garbage token", async () => "not-a-jwt"],
    ["an expired token", expired],
    [
      "a token signed with another secret",
      async () =>
        new SignJWT({ customer_id: a.customerId, client_id: a.clientId })
          .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
          .setSubject(a.uid)
          .setIssuer(env().publicUrl)
          .setAudience("pss-api")
          .setIssuedAt()
          .setExpirationTime("5m")
          .sign(new TextEncoder().encode("x".repeat(32))),
    ],
    [
      "an unsigned (alg none) token",
      async () =>
        `${b64({ alg: "none", typ: "at+jwt" })}.${b64({ sub: a.uid, customer_id: a.customerId, client_id: a.clientId, iss: env().publicUrl, aud: "pss-api", iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 300 })}.`,
    ],
    ["a token naming another customer", async () => signAccessToken({ sub: a.uid, customerId: b.customerId, clientId: a.clientId })],
  ])("401 invalid_token for %s, and nothing is issued", async (_name, make) => {
    const token = await make();
    const r = await refused(401, "invalid_token", BOOT, { token, body: await bootstrapBody() });
    expect(r.headers.get("www-authenticate")).toContain("invalid_token");
  });

  it("a disabled client's token stops working at once", async () => {
    const c = await tenant(api, unique("Disabled").replace(/-/g, " "));
    await db.oAuthClient.update({ where: { clientId: c.clientId }, data: { disabledAt: new Date() } });
    const r = await send(KEYS, { token: c.token });
    expect(r.status).toBe(401);
  });
});

describe(`customer API: payload-signing keys (${dbLabel()})`, () => {
  it("lists the user's keys; kid is the RFC 7638 thumbprint", async () => {
    const r = await send(KEYS);
    expect(r.status).toBe(200);
    const keys = r.body.keys as { kid: string; alg: string }[];
    expect(keys.map((k) => k.kid)).toEqual([await kidOf(a.key.privateKey)]);
    expect(keys[0].alg).toBe("ES256");
    expect((await send(KEYS, { token: b.token })).body.keys).not.toContainEqual(expect.objectContaining({ kid: a.kid }));
  });

  it("a further key needs a signature by an active key of the user (general JSON)", async () => {
    const next = ecKey("secp384r1");
    await refused(403, "key_authorization_required", KEYS, { body: await signKeyRegistration(next, { url: publicUrl(KEYS) }) });
    // another user's key cannot authorize it
    await refused(403, "key_unknown", KEYS, { body: await signKeyRegistration(next, { authorizer: b.key }) });
    const ok = await send(KEYS, { body: await signKeyRegistration(next, { authorizer: a.key, url: publicUrl(KEYS) }) });
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ kid: await kidOf(next.privateKey), alg: "ES384" });
    // the same key again
    await refused(409, "key_exists", KEYS, { body: await signKeyRegistration(next, { authorizer: a.key }) });
  });

  it("an existing key's co-signature cannot be lifted onto another key, nor used twice", async () => {
    const legit = ecKey();
    const captured = JSON.parse(await signKeyRegistration(legit, { authorizer: a.key, url: publicUrl(KEYS) })) as {
      payload: string;
      signatures: { protected: string; signature: string }[];
    };
    // the attacker (stolen client secret) re-signs the captured payload with their own key and keeps the co-signature
    const attacker = ecKey();
    const popHeader = b64({ alg: "ES256", jwk: publicJwk(attacker.privateKey), url: publicUrl(KEYS) });
    const popSig = sign("sha256", Buffer.from(`${popHeader}.${captured.payload}`), { key: attacker.privateKey, dsaEncoding: "ieee-p1363" });
    const lifted = {
      payload: captured.payload,
      signatures: [{ protected: popHeader, signature: popSig.toString("base64url") }, captured.signatures[1]],
    };
    await refused(400, "payload_invalid", KEYS, { body: JSON.stringify(lifted) });
    // the co-signed request itself registers once; replaying it is refused
    expect((await send(KEYS, { body: JSON.stringify(captured) })).status).toBe(201);
    const again = await send(KEYS, { body: JSON.stringify(captured) });
    expect(again.status).toBe(409);
  });

  it("accepts Ed25519 and RSA-2048 keys; refuses RSA-1024, private JWKs, mismatched curves and a PoP by another key", async () => {
    const c = await tenant(api, unique("Keys").replace(/-/g, " "));
    const ed = generateKeyPairSync("ed25519").privateKey;
    const edReg = await send(KEYS, {
      token: c.token,
      body: await signKeyRegistration({ privateKey: ed, alg: "EdDSA" }, { authorizer: c.key }),
    });
    expect(edReg.status).toBe(201);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    expect(
      (await send(KEYS, { token: c.token, body: await signKeyRegistration({ privateKey: rsa, alg: "RS256" }, { authorizer: c.key }) }))
        .status,
    ).toBe(201);

    const weak = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey;
    await refused(400, "key_weak", KEYS, { token: c.token, body: rawJws({ alg: "RS256", jwk: publicJwk(weak) }, freshClaims(), weak) });
    const p256 = ecKey().privateKey;
    const priv = p256.export({ format: "jwk" });
    await refused(400, "jwk_private", KEYS, {
      token: c.token,
      body: rawJws({ alg: "ES256", jwk: priv }, freshClaims(), p256, "ieee-p1363"),
    });
    await refused(400, "jwk_alg_mismatch", KEYS, {
      token: c.token,
      body: rawJws({ alg: "ES384", jwk: publicJwk(p256) }, freshClaims(), p256, "ieee-p1363"),
    });
    const other = ecKey().privateKey;
    await refused(400, "jws_invalid_signature", KEYS, {
      token: c.token,
      body: rawJws({ alg: "ES256", jwk: publicJwk(p256) }, freshClaims(), other, "ieee-p1363"),
    });
    // DER-encoded ECDSA signatures are not JWS signatures (RFC 7518 §3.4: raw R‖S)
    await refused(400, "jws_invalid_signature", KEYS, {
      token: c.token,
      body: rawJws({ alg: "ES256", jwk: publicJwk(p256) }, freshClaims(), p256),
    });
    await refused(400, "jwk_missing", KEYS, { token: c.token, body: rawJws({ alg: "ES256" }, freshClaims(), p256, "ieee-p1363") });
  });

  it("disables a key (another user's kid answers 404); a disabled key signs nothing", async () => {
    const c = await tenant(api, unique("Disable").replace(/-/g, " "));
    expect((await send(`${KEYS}/${a.kid}`, { method: "DELETE", token: c.token })).status).toBe(404);
    const r = await send(`${KEYS}/${c.kid}`, { method: "DELETE", token: c.token });
    expect(r.status).toBe(200);
    expect(r.body.disabledAt).toBeTruthy();
    const before = await counts(c);
    const res = await send(BOOT, { token: c.token, body: await bootstrapBody(c) });
    expect([res.status, (res.body.error as { code: string }).code]).toEqual([403, "key_disabled"]);
    expect(await counts(c)).toEqual(before);
    // with no active key left, the bearer token alone still adds no key (a stolen secret could disable them all)
    await refused(403, "key_authorization_required", KEYS, { token: c.token, body: await signKeyRegistration(ecKey()) });
  });
});

describe(`customer API: bootstrapping certificates (${dbLabel()})`, () => {
  it("happy path: 201 {certificate, chain, serial}; openssl verifies it to the root; UID in the SAN; key recorded", async () => {
    const r = await send(BOOT, { body: await bootstrapBody() });
    expect([r.status, r.body.error]).toEqual([201, undefined]);
    const { certificate, chain, serial } = r.body as { certificate: string; chain: string[]; serial: string };
    expect(serial).toMatch(/^[0-9a-f]+$/);
    const s = scratchDir();
    try {
      const v = await opensslAsync([
        "verify",
        "-CAfile",
        s.write("root.pem", chain.at(-1)!),
        "-untrusted",
        s.write("chain.pem", chain.slice(0, -1).join("")),
        s.write("cert.pem", certificate),
      ]);
      expect(v.out).toContain("cert.pem: OK");
      const text = await opensslAsync(["x509", "-in", s.write("c.pem", certificate), "-noout", "-text"]);
      expect(text.out).toContain(a.uid);
    } finally {
      s.cleanup();
    }
    const row = await db.certificate.findUniqueOrThrow({ where: { serial } });
    expect(row).toMatchObject({ kind: "BOOTSTRAP", customerId: a.customerId, uid: a.uid, authorizedBy: `key:${a.kid}` });
    const audit = await db.auditEvent.findFirst({ where: { target: `certificate:${serial}` } });
    expect(audit?.actorId).toBe(a.clientId);
  });

  it("accepts the compact serialization and stores the enrollment policy fields", async () => {
    const until = new Date(Date.now() + 86_400_000).toISOString();
    const r = await send(BOOT, {
      type: "application/jose",
      body: await bootstrapBody(a, { expectedDeviceIds: ["dev-1", "dev-2"], maxEnrollments: 2, enrollUntil: until }, { compact: true }),
    });
    expect(r.status).toBe(201);
    const cert = await db.certificate.findUniqueOrThrow({ where: { serial: r.body.serial as string } });
    const policy = await db.enrollmentPolicy.findFirstOrThrow({ where: { bootstrapCertId: cert.id } });
    expect(policy).toMatchObject({ customerId: a.customerId, allowDeviceIds: ["dev-1", "dev-2"], maxEnrollments: 2 });
    expect(policy.enrollUntil?.toISOString()).toBe(until);
  });

  const withCsr = (csr: string, extra: Record<string, unknown> = {}) =>
    signPayload(a.key, { csr, ...freshClaims(), ...extra }, { url: publicUrl(BOOT) });
  const ec = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;

  it.each([
    [
      "JWS alg none",
      async () =>
        JSON.stringify({ protected: b64({ alg: "none", kid: a.kid }), payload: b64({ csr: csrPem(), ...freshClaims() }), signature: "AA" }),
      400,
      "jws_alg_not_allowed",
    ],
    ["JWS alg HS256", async () => rawJws({ alg: "HS256", kid: a.kid }, { csr: csrPem(), ...freshClaims() }), 400, "jws_alg_not_allowed"],
    [
      "wrong alg for the key",
      async () => rawJws({ alg: "ES384", kid: a.kid }, { csr: csrPem(), ...freshClaims() }, a.key.privateKey, "ieee-p1363"),
      400,
      "jws_alg_mismatch",
    ],
    ["kid of another user's key", async () => signPayload(b.key, { csr: csrPem(), ...freshClaims() }), 403, "key_unknown"],
    ["an unknown kid", async () => signPayload(a.key, { csr: csrPem(), ...freshClaims() }, { kid: "bm90LWEta2lk" }), 403, "key_unknown"],
    [
      "no kid",
      async () => rawJws({ alg: "ES256" }, { csr: csrPem(), ...freshClaims() }, a.key.privateKey, "ieee-p1363"),
      400,
      "jws_kid_missing",
    ],
    [
      "a signature by another key under our kid",
      async () => signPayload(ecKey(), { csr: csrPem(), ...freshClaims() }, { kid: a.kid }),
      400,
      "jws_invalid_signature",
    ],
    [
      "a tampered payload",
      async () => {
        const jws = JSON.parse(await bootstrapBody());
        return JSON.stringify({ ...jws, payload: b64({ csr: csrPem(), ...freshClaims() }) });
      },
      400,
      "jws_invalid_signature",
    ],
    ["garbled JSON", async () => '{"protected": "eyJ', 400, "jws_malformed"],
    [
      "a truncated compact JWS",
      async () => (await bootstrapBody(a, {}, { compact: true })).split(".").slice(0, 2).join("."),
      400,
      "jws_malformed",
    ],
    ["non-base64url parts", async () => JSON.stringify({ protected: "***", payload: "e30", signature: "AA" }), 400, "jws_malformed"],
    [
      "an unprotected header",
      async () => JSON.stringify({ ...JSON.parse(await bootstrapBody()), header: { kid: a.kid } }),
      400,
      "jws_malformed",
    ],
    ["an empty body", async () => "", 400, "jws_malformed"],
    [
      "a crit header",
      async () => rawJws({ alg: "ES256", kid: a.kid, crit: ["exp"] }, { csr: csrPem(), ...freshClaims() }, a.key.privateKey, "ieee-p1363"),
      400,
      "jws_header_invalid",
    ],
    [
      "a payload that is not JSON",
      async () => rawJws({ alg: "ES256", kid: a.kid }, "not json", a.key.privateKey, "ieee-p1363"),
      400,
      "payload_invalid",
    ],
    ["no nonce", async () => signPayload(a.key, { csr: csrPem(), iat: Math.floor(Date.now() / 1000) }), 400, "nonce_invalid"],
    ["iat 10 minutes old", async () => withCsr(csrPem(), { iat: Math.floor(Date.now() / 1000) - 600 }), 400, "iat_out_of_range"],
    ["iat 10 minutes ahead", async () => withCsr(csrPem(), { iat: Math.floor(Date.now() / 1000) + 600 }), 400, "iat_out_of_range"],
    [
      "a url for another endpoint",
      async () =>
        signPayload(a.key, { csr: csrPem(), ...freshClaims() }, { url: publicUrl("/api/v1/manufacturing/client-tls-certificates") }),
      400,
      "url_mismatch",
    ],
    [
      "a CSR with an extra SAN",
      async () =>
        withCsr(
          toPem(
            "CERTIFICATE REQUEST",
            createCsr({
              key: ec(),
              extensions: [{ oid: "2.5.29.17", value: encodeGeneralNames([{ type: "dns", value: "evil.example" }]) }],
            }),
          ),
        ),
      400,
      "csr_san_not_allowed",
    ],
    [
      "a CSR asking for CA:TRUE",
      async () =>
        withCsr(
          toPem(
            "CERTIFICATE REQUEST",
            createCsr({ key: ec(), extensions: [{ oid: "2.5.29.19", critical: true, value: sequence(boolean(true)) }] }),
          ),
        ),
      400,
      "csr_ca_requested",
    ],
    ["an RSA-1024 CSR", async () => withCsr(csrPem(generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey)), 400, "csr_weak_key"],
    [
      "a CSR whose self-signature fails",
      async () =>
        withCsr(
          toPem("CERTIFICATE REQUEST", createCsr({ key: ec(), signature: (s) => Buffer.from(s.map((x, i) => (i === 10 ? x ^ 1 : x))) })),
        ),
      400,
      "csr_invalid_signature",
    ],
    [
      "a CSR that is not PEM",
      async () => withCsr("-----BEGIN CERTIFICATE REQUEST-----\nnope\n-----END CERTIFICATE REQUEST-----"),
      400,
      "csr_malformed",
    ],
    ["a CSR over 8 KiB", async () => withCsr(`${csrPem()}${" ".repeat(9000)}`), 400, "csr_too_large"],
    ["an enrollment policy in the past", async () => withCsr(csrPem(), { enrollUntil: "2001-01-01T00:00:00Z" }), 400, "policy_invalid"],
    ["a bad device id in the policy", async () => withCsr(csrPem(), { expectedDeviceIds: ["bad id!"] }), 400, "payload_invalid"],
  ])("refuses %s", async (_name, make, status, code) => {
    await refused(status, code, BOOT, { body: await make() });
  });

  it("refuses a body over 64 KiB with 413", async () => {
    await refused(413, "body_too_large", BOOT, { body: await withCsr(csrPem(), { pad: "x".repeat(70 * 1024) }) });
  });

  it("a refused request still consumes its nonce (signature verified first), an unverified one does not", async () => {
    const claims = freshClaims();
    await refused(400, "iat_out_of_range", BOOT, {
      body: await signPayload(a.key, { csr: csrPem(), nonce: claims.nonce, iat: claims.iat - 1000 }),
    });
    await refused(409, "nonce_replayed", BOOT, { body: await signPayload(a.key, { csr: csrPem(), ...claims }) });
    expect(await db.nonce.count({ where: { scope: a.kid, nonce: claims.nonce } })).toBe(1);
    const audit = await db.auditEvent.findFirst({
      where: { customerId: a.customerId, outcome: "refused", action: "certificate.issue" },
      orderBy: { id: "desc" },
    });
    expect(audit?.details).toMatchObject({ code: "nonce_replayed", key: a.kid });
    // a bad signature spends nothing: the same nonce then works
    const fresh = freshClaims();
    await refused(400, "jws_invalid_signature", BOOT, { body: await signPayload(ecKey(), { csr: csrPem(), ...fresh }, { kid: a.kid }) });
    expect((await send(BOOT, { body: await signPayload(a.key, { csr: csrPem(), ...fresh }) })).status).toBe(201);
  });

  it("replay: the same request twice fails; two identical requests at once: exactly one succeeds", async () => {
    const body = await bootstrapBody();
    expect((await send(BOOT, { body })).status).toBe(201);
    await refused(409, "nonce_replayed", BOOT, { body });
    const before = await counts(a);
    const parallel = await bootstrapBody();
    const results = await Promise.all([send(BOOT, { body: parallel }), send(BOOT, { body: parallel }), send(BOOT, { body: parallel })]);
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    expect((await counts(a)).certificates).toBe(before.certificates + 1);
  });

  it("a viewer's client may read but not issue", async () => {
    await db.user.update({ where: { uid: b.uid }, data: { role: "CUSTOMER_VIEWER" } });
    try {
      await refused(403, "forbidden", BOOT, { token: b.token, body: await bootstrapBody(b) });
      expect((await send(KEYS, { token: b.token })).status).toBe(200);
    } finally {
      await db.user.update({ where: { uid: b.uid }, data: { role: "CUSTOMER_ADMIN" } });
    }
  });
});

describe(`customer API: enrollment policy (${dbLabel()})`, () => {
  const POLICY = "/api/v1/enrollment-policy";
  /** A signed change: the JWS by the tenant's payload-signing key, naming the endpoint. */
  const signed = async (t: TestTenant, path: string, fields: Record<string, unknown> = {}) =>
    signPayload(t.key, { ...fields, ...freshClaims() }, { url: publicUrl(path) });
  const put = async (t: TestTenant, path: string, fields: Record<string, unknown>) =>
    send(path, { method: "PUT", token: t.token, body: await signed(t, path, fields) });
  const post = async (t: TestTenant, path: string, fields: Record<string, unknown> = {}) =>
    send(path, { token: t.token, body: await signed(t, path, fields) });

  it("sets the customer-wide policy and a bootstrapping certificate's, reads them back; fields left out keep their value", async () => {
    const c = await tenant(api, unique("Policy").replace(/-/g, " "));
    const set = await put(c, POLICY, { denyDeviceIds: ["bad-1"], requireDeviceSecret: false });
    expect(set).toMatchObject({
      status: 200,
      body: { scope: "customer", denyDeviceIds: ["bad-1"], allowDeviceIds: [], maxEnrollments: null },
    });
    expect((await put(c, POLICY, { maxEnrollments: 500 })).body).toMatchObject({ denyDeviceIds: ["bad-1"], maxEnrollments: 500 });

    const serial = (await send(BOOT, { token: c.token, body: await bootstrapBody(c) })).body.serial as string;
    const linePath = `/api/v1/bootstrap-certificates/${serial}/policy`;
    const line = await put(c, linePath, { allowDeviceIds: ["line-1", "line-2"], maxEnrollments: 2, enrollUntil: "2099-01-01T00:00:00Z" });
    expect(line).toMatchObject({
      status: 200,
      body: { scope: `bootstrap:${serial}`, allowDeviceIds: ["line-1", "line-2"], maxEnrollments: 2 },
    });
    const all = await send(POLICY, { token: c.token });
    expect(all.status).toBe(200);
    expect((all.body.policies as { scope: string }[]).map((p) => p.scope).sort()).toEqual([`bootstrap:${serial}`, "customer"]);
    expect(await db.auditEvent.count({ where: { action: "enrollment_policy.set", customerId: c.customerId } })).toBe(3);

    // refused, nothing written: the bearer token alone, a replayed payload, another customer's serial, a bad
    // device id, an unknown field
    const before = await db.enrollmentPolicy.findMany({ where: { customerId: c.customerId }, orderBy: { id: "asc" } });
    const unsigned = await send(POLICY, {
      method: "PUT",
      token: c.token,
      body: JSON.stringify({ maxEnrollments: 1 }),
      type: "application/json",
    });
    expect(unsigned.status).toBe(400);
    const body = await signed(c, POLICY, { maxEnrollments: 1 });
    expect((await send(POLICY, { method: "PUT", token: c.token, body })).status).toBe(200);
    expect(await send(POLICY, { method: "PUT", token: c.token, body })).toMatchObject({
      status: 409,
      body: { error: { code: "nonce_replayed" } },
    });
    await put(c, POLICY, { maxEnrollments: 500 });
    expect(await put(a, linePath, { maxEnrollments: 1 })).toMatchObject({
      status: 404,
      body: { error: { code: "certificate_not_found" } },
    });
    expect(await put(c, POLICY, { denyDeviceIds: ["not a device id"] })).toMatchObject({
      status: 400,
      body: { error: { code: "payload_invalid" } },
    });
    expect((await put(c, POLICY, { maxEnrolments: 3 })).status).toBe(400);
    expect(await db.enrollmentPolicy.findMany({ where: { customerId: c.customerId }, orderBy: { id: "asc" } })).toEqual(
      before.map((p) => expect.objectContaining({ id: p.id, maxEnrollments: p.maxEnrollments, denyDeviceIds: p.denyDeviceIds })),
    );
  });

  it("round-trips the enrollment rate limit: customer-wide, at issuance, per certificate, 0 and inherit; bad values write nothing", async () => {
    const c = await tenant(api, unique("Rate").replace(/-/g, " "));
    expect((await put(c, POLICY, { enrollRatePerMinute: 120 })).body).toMatchObject({ scope: "customer", enrollRatePerMinute: 120 });
    const serial = (await send(BOOT, { token: c.token, body: await bootstrapBody(c, { enrollRatePerMinute: 10 }) })).body.serial as string;
    const linePath = `/api/v1/bootstrap-certificates/${serial}/policy`;
    const rates = async () => {
      const r = await send(POLICY, { token: c.token });
      const policies = r.body.policies as { scope: string; enrollRatePerMinute: number | null }[];
      return {
        rates: Object.fromEntries(policies.map((p) => [p.scope, p.enrollRatePerMinute])),
        serverDefault: r.body.defaultEnrollRatePerMinute,
      };
    };
    expect(await rates()).toEqual({
      rates: { customer: 120, [`bootstrap:${serial}`]: 10 },
      serverDefault: env().DEVICE_ENROLL_RATE_PER_MINUTE,
    });
    expect((await put(c, linePath, { enrollRatePerMinute: 0 })).body).toMatchObject({ enrollRatePerMinute: 0 });
    expect((await put(c, linePath, { maxEnrollments: 4 })).body).toMatchObject({ enrollRatePerMinute: 0, maxEnrollments: 4 });
    expect((await put(c, linePath, { enrollRatePerMinute: null })).body).toMatchObject({ enrollRatePerMinute: null });
    for (const bad of [-1, 1.5, 1_000_001, "60"])
      expect(await put(c, POLICY, { enrollRatePerMinute: bad }), String(bad)).toMatchObject({
        status: 400,
        body: { error: { code: "payload_invalid" } },
      });
    expect(await send(BOOT, { token: c.token, body: await bootstrapBody(c, { enrollRatePerMinute: -5 }) })).toMatchObject({
      status: 400,
      body: { error: { code: "payload_invalid" } },
    });
    expect(await rates()).toMatchObject({ rates: { customer: 120, [`bootstrap:${serial}`]: null } });
  });

  it("releases a quarantined bootstrapping certificate; registers a device's one-time secret, answered once", async () => {
    const c = await tenant(api, unique("Release").replace(/-/g, " "));
    const serial = (await send(BOOT, { token: c.token, body: await bootstrapBody(c) })).body.serial as string;
    const release = `/api/v1/bootstrap-certificates/${serial}/release`;
    expect(await post(c, release)).toMatchObject({ status: 409, body: { error: { code: "not_quarantined" } } });
    await db.certificate.update({ where: { serial }, data: { quarantinedAt: new Date(), quarantineReason: "enrollment_budget_exceeded" } });
    expect((await send(POLICY, { token: c.token })).body.quarantined).toEqual([expect.objectContaining({ serial })]);
    expect((await send(release, { token: c.token, method: "POST" })).status).toBe(400);
    expect(await post(c, release)).toMatchObject({ status: 200, body: { serial, released: true } });
    expect((await db.certificate.findUniqueOrThrow({ where: { serial } })).quarantinedAt).toBeNull();

    const secret = await post(c, "/api/v1/devices/meter-7/secret");
    expect(secret.status).toBe(201);
    expect(secret.body.deviceId).toBe("meter-7");
    expect(String(secret.body.secret).length).toBeGreaterThanOrEqual(16);
    const row = await db.deviceSecret.findUniqueOrThrow({
      where: { customerId_deviceId: { customerId: c.customerId, deviceId: "meter-7" } },
    });
    expect(row.secretHash).not.toContain(String(secret.body.secret));
    const chosen = await post(c, "/api/v1/devices/meter-8/secret", { secret: "a-chosen-secret-of-the-factory" });
    expect(chosen.body).toEqual({ deviceId: "meter-8", secret: "a-chosen-secret-of-the-factory" });
    expect((await post(c, "/api/v1/devices/meter-9/secret", { secret: "short" })).status).toBe(400);
    // signed for another endpoint: refused
    const elsewhere = await signed(c, "/api/v1/devices/meter-1/secret");
    expect(await send("/api/v1/devices/meter-2/secret", { token: c.token, body: elsewhere })).toMatchObject({
      status: 400,
      body: { error: { code: "url_mismatch" } },
    });
  });

  it("a viewer reads the policies but changes nothing", async () => {
    const c = await tenant(api, unique("Viewer Policy").replace(/-/g, " "));
    await db.user.update({ where: { uid: c.uid }, data: { role: "CUSTOMER_VIEWER" } });
    expect((await send(POLICY, { token: c.token })).status).toBe(200);
    expect(await put(c, POLICY, { denyDeviceIds: ["x-1"] })).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect((await post(c, "/api/v1/devices/x-1/secret")).status).toBe(403);
    expect(await db.enrollmentPolicy.count({ where: { customerId: c.customerId } })).toBe(0);
  });
});

describe(`customer API: reading and revoking (${dbLabel()})`, () => {
  it("customer A's token on customer B's serial answers 404 (show, revoke, bootstrap revoke); the owner still sees it", async () => {
    const issued = await send(BOOT, { token: b.token, body: await bootstrapBody(b) });
    const serial = issued.body.serial as string;
    expect((await send(`/api/v1/certificates/${serial}`)).status).toBe(404);
    await refused(404, "certificate_not_found", `/api/v1/certificates/${serial}/revoke`, { body: "{}", type: "application/json" });
    await refused(404, "certificate_not_found", `/api/v1/bootstrap-certificates/${serial}/revoke`, {
      body: "{}",
      type: "application/json",
    });
    const mine = await send(`/api/v1/certificates/${serial.toUpperCase()}`, { token: b.token });
    expect(mine.status).toBe(200);
    expect(mine.body).toMatchObject({ serial, kind: "BOOTSTRAP", status: "active", uid: b.uid });
    expect((await db.certificate.findUniqueOrThrow({ where: { serial } })).revokedAt).toBeNull();
    expect((await send("/api/v1/certificates/not-hex")).status).toBe(400);
  });

  it("audits the security-relevant refusals (SPEC §7) once per caller, code and minute; a use case's own audit is not doubled", async () => {
    const c = await tenant(api, unique("Prober").replace(/-/g, " "));
    const issued = await send(BOOT, { token: b.token, body: await bootstrapBody(b) });
    const serial = issued.body.serial as string;
    // the probes below must fall in one minute: each caller and code is audited once per minute
    await freshWindow();
    const since = new Date();
    const events = (where: Record<string, unknown>) =>
      db.auditEvent.findMany({ where: { action: "api.request", outcome: "refused", at: { gte: since }, ...where } });
    // another customer's serial, three times: one event, in the prober's customer, naming no owner
    for (let i = 0; i < 3; i++) expect((await send(`/api/v1/certificates/${serial}`, { token: c.token })).status).toBe(404);
    const probes = await events({ actorId: c.clientId });
    expect(probes).toHaveLength(1);
    expect(probes[0]).toMatchObject({
      customerId: c.customerId,
      target: `GET /api/v1/certificates/${serial}`,
      details: { code: "certificate_not_found", status: 404 },
    });
    // a token that does not verify: audited without a customer
    const forged = `${c.token.slice(0, -4)}AAAA`;
    const ip = `203.0.113.${Math.floor(Math.random() * 250) + 1}`;
    for (let i = 0; i < 2; i++)
      expect((await send("/api/v1/devices", { token: forged, headers: { "x-pss-client-address": ip } })).status).toBe(401);
    expect(await events({ actorId: "unauthenticated", ip })).toEqual([
      expect.objectContaining({ customerId: null, target: "GET /api/v1/devices", details: { code: "invalid_token", status: 401 } }),
    ]);
    // a viewer revoking: 403 audited; a viewer issuing is audited by issuance itself, and only there
    await db.user.update({ where: { uid: c.uid }, data: { role: "CUSTOMER_VIEWER" } });
    try {
      const revoke = await send(`/api/v1/certificates/${serial}/revoke`, { token: c.token, body: "{}", type: "application/json" });
      expect(revoke.status).toBe(403);
      expect((await events({ actorId: c.clientId })).map((e) => (e.details as { code: string }).code).sort()).toEqual([
        "certificate_not_found",
        "forbidden",
      ]);
      expect((await send(BOOT, { token: c.token, body: await bootstrapBody(c) })).status).toBe(403);
      expect(await events({ actorId: c.clientId, target: `POST ${BOOT}` })).toHaveLength(0);
      expect(await db.auditEvent.count({ where: { action: "certificate.issue", outcome: "refused", actorId: c.clientId } })).toBe(1);
    } finally {
      await db.user.update({ where: { uid: c.uid }, data: { role: "CUSTOMER_ADMIN" } });
    }
  });

  it("revokes a certificate with a reason; twice answers 409", async () => {
    const serial = (await send(BOOT, { body: await bootstrapBody() })).body.serial as string;
    const r = await send(`/api/v1/certificates/${serial}/revoke`, {
      body: JSON.stringify({ reason: "superseded" }),
      type: "application/json",
    });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ serial, reason: "superseded" });
    expect((await send(`/api/v1/certificates/${serial}/revoke`, { body: "{}", type: "application/json" })).status).toBe(409);
    expect(
      (await send(`/api/v1/certificates/${serial}/revoke`, { body: JSON.stringify({ reason: "bogus" }), type: "application/json" })).status,
    ).toBe(400);
  });

  it("OpenAPI 3.1 is generated from the request schemas", async () => {
    const r = await send("/api/v1/openapi.json", { token: null });
    expect(r.status).toBe(200);
    expect(r.body.openapi).toBe("3.1.0");
    const schemas = (r.body.components as { schemas: Record<string, { properties?: Record<string, unknown> }> }).schemas;
    expect(Object.keys(schemas)).toEqual(
      expect.arrayContaining(["BootstrapPayload", "ManufacturingPayload", "FlattenedJws", "Error", "TokenRequest"]),
    );
    expect(Object.keys(schemas.BootstrapPayload.properties ?? {})).toEqual(
      expect.arrayContaining(["csr", "nonce", "iat", "expectedDeviceIds"]),
    );
    expect(JSON.stringify(r.body)).not.toContain("__shared");
    expect(Object.keys(r.body.paths as object)).toEqual(
      expect.arrayContaining([
        "/oauth/token",
        "/payload-signing-keys",
        "/bootstrap-certificates",
        "/manufacturing/client-tls-certificates",
        "/devices",
      ]),
    );
    type Operation = { parameters?: { name: string }[]; responses: Record<string, unknown> };
    const paths = r.body.paths as Record<string, Record<string, Operation>>;
    expect(paths["/devices"].get.parameters?.map((p) => p.name)).toContain("expiring");
    // a viewer's token is refused by every change
    for (const [path, ops] of Object.entries(paths))
      for (const [method, op] of Object.entries(ops))
        if (method !== "get" && path !== "/oauth/token") expect(Object.keys(op.responses), `${method} ${path}`).toContain("403");
  });
});

describe(`customer API: values PostgreSQL would refuse answer a 4xx with a code, never a 500 (${dbLabel()})`, () => {
  const TOKEN = "/api/v1/oauth/token";
  const POLICY = "/api/v1/enrollment-policy";
  const FORM = "application/x-www-form-urlencoded";
  const NUL = "\u0000";
  let h: TestTenant;
  beforeAll(async () => {
    h = await tenant(api, unique("Hostile").replace(/-/g, " "));
  });
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const basic = (userPass: string) => ({ authorization: `Basic ${Buffer.from(userPass).toString("base64")}` });
  const cursor = (v: string) => b64({ v, id: "00000000-0000-4000-8000-000000000000" });
  const signed = async (path: string, fields: Record<string, unknown>) =>
    signPayload(h.key, { ...fields, ...freshClaims() }, { url: publicUrl(path) });

  it.each([
    // no login needed: a NUL in the credentials, in the form or in HTTP Basic
    [
      "a NUL client_id",
      TOKEN,
      { token: null, type: FORM, body: form({ grant_type: "client_credentials", client_id: NUL, client_secret: "x" }) },
    ],
    [
      "a NUL client_secret",
      TOKEN,
      { token: null, type: FORM, body: form({ grant_type: "client_credentials", client_id: "x", client_secret: NUL }) },
    ],
    ["a NUL Basic client id", TOKEN, { token: null, type: FORM, headers: basic(`${NUL}:x`), body: "grant_type=client_credentials" }],
    ["a NUL Basic secret", TOKEN, { token: null, type: FORM, headers: basic(`x:${NUL}`), body: "grant_type=client_credentials" }],
    ["a NUL search", "/api/v1/devices?q=%00", {}],
    ["a NUL UID filter", "/api/v1/devices?uid=ab%00cd", {}],
    ["a cursor in year 0000", `/api/v1/devices?cursor=${cursor("0000-01-01T00:00:00Z")}`, {}],
    ["a cursor before 1970", `/api/v1/devices?cursor=${cursor("1969-12-31T23:59:59Z")}`, {}],
    ["a cursor an offset moves past 9999", `/api/v1/devices?cursor=${cursor("9999-12-31T23:00:00-05:00")}`, {}],
  ] as const)("%s: 400 invalid_request", async (_name, path, init) => {
    await refused(400, "invalid_request", path, { token: h.token, ...init });
  });

  it.each([
    ["a NUL device id to reset", 404, "device_not_found", "/api/v1/devices/%00/reset", { body: "{}", type: "application/json" }],
    ["a device id outside the pattern", 404, "device_not_found", "/api/v1/devices/a%20b/reset", { body: "{}", type: "application/json" }],
    ["a NUL kid to disable", 404, "key_not_found", `${KEYS}/%00`, { method: "DELETE" }],
    ["a kid that is no thumbprint", 404, "key_not_found", `${KEYS}/a%2Bb`, { method: "DELETE" }],
  ] as const)("%s: %i %s", async (_name, status, code, path, init) => {
    await refused(status, code, path, { token: h.token, ...init });
  });

  it("a signature naming a kid that is no thumbprint answers key_unknown (403), like an unknown key", async () => {
    for (const kid of [NUL, `x${NUL}`, "a b", "é"]) {
      const body = rawJws({ alg: "ES256", kid }, { maxEnrollments: 1, ...freshClaims() }, h.key.privateKey, "ieee-p1363");
      await refused(403, "key_unknown", POLICY, { method: "PUT", token: h.token, body });
    }
  });

  it("a date-time before 1970 or after 9999 (its offset applied) in a signed payload answers payload_invalid", async () => {
    const serial = (await send(BOOT, { token: h.token, body: await signed(BOOT, { csr: csrPem() }) })).body.serial as string;
    const linePolicy = `${BOOT}/${serial}/policy`;
    for (const enrollUntil of ["0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "9999-12-31T23:00:00-05:00"]) {
      await refused(400, "payload_invalid", POLICY, { method: "PUT", token: h.token, body: await signed(POLICY, { enrollUntil }) });
      await refused(400, "payload_invalid", linePolicy, { method: "PUT", token: h.token, body: await signed(linePolicy, { enrollUntil }) });
      await refused(400, "payload_invalid", BOOT, { token: h.token, body: await signed(BOOT, { csr: csrPem(), enrollUntil }) });
    }
    const ok = await send(POLICY, {
      method: "PUT",
      token: h.token,
      body: await signed(POLICY, { enrollUntil: "9999-12-31T18:59:59-05:00" }),
    });
    expect(ok).toMatchObject({ status: 200, body: { enrollUntil: "9999-12-31T23:59:59.000Z" } });
  });

  it("a leaked key's revocation with a moment in year 0000 is refused clearly (400), and the same revocation then succeeds", async () => {
    const serial = (await send(BOOT, { token: h.token, body: await signed(BOOT, { csr: csrPem() }) })).body.serial as string;
    const revoke = `${BOOT}/${serial}/revoke`;
    for (const moment of ["0000-01-01T00:00:00Z", "-000001-01-01T00:00:00Z", "9999-12-31T23:00:00-05:00"])
      await refused(400, "invalid_request", revoke, {
        token: h.token,
        type: "application/json",
        body: JSON.stringify({ alsoRevokeDevicesEnrolledAfter: moment }),
      });
    expect((await db.certificate.findUniqueOrThrow({ where: { serial } })).revokedAt).toBeNull();
    const r = await send(revoke, {
      token: h.token,
      type: "application/json",
      body: JSON.stringify({ alsoRevokeDevicesEnrolledAfter: "1970-01-01T00:00:00Z" }),
    });
    expect(r).toMatchObject({ status: 200, body: { serial, reason: "keyCompromise", alreadyRevoked: false } });
  });

  it("a value PostgreSQL refuses that got past validation answers 400 invalid_request, logged as a warning", async () => {
    const failing = [
      db.user.findFirst({ where: { uid: NUL } }), // 22021 invalid byte sequence
      db.customer.findUnique({ where: { id: "0".repeat(36) } }), // 22P02 invalid uuid
      db.auditEvent.findFirst({ where: { at: { gte: new Date("0000-01-01T00:00:00Z") } } }), // 22008 date/time out of range
      db.auditEvent.findFirst({ where: { id: { lt: 2n ** 63n } } }), // 22003 out of range for bigint
      db.$queryRaw`SELECT ${NUL}::text`, // a raw query
      db.$transaction(async (tx) => tx.user.findFirst({ where: { email: NUL } })), // inside a transaction
    ];
    const errors = await Promise.all(
      failing.map((p) =>
        Promise.resolve(p).then(
          () => null,
          (e: unknown) => e,
        ),
      ),
    );
    const warn = vi.spyOn(log, "warn");
    const error = vi.spyOn(log, "error");
    try {
      for (const e of errors) {
        expect(e).not.toBeNull();
        const res = errorResponse(e);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect([res.status, body.error.code]).toEqual([400, "invalid_request"]);
        // the database's own words stay in the log
        expect(body.error.message).not.toMatch(/uuid|UTF8|bigint|prisma|invocation/i);
      }
      expect(warn).toHaveBeenCalledTimes(errors.length);
      expect(error).not.toHaveBeenCalled();
      // anything else is still a logged 500; so is another kind of database error (a unique violation)
      const taken = (await db.customer.findUniqueOrThrow({ where: { id: a.customerId } })).name;
      const dup = await db.customer.create({ data: { name: taken } }).then(
        () => null,
        (e: unknown) => e,
      );
      for (const e of [new Error("boom"), dup]) expect(errorResponse(e).status).toBe(500);
      expect(error).toHaveBeenCalledTimes(2);
    } finally {
      warn.mockRestore();
      error.mockRestore();
    }
  });
});
