// The customer API with an external OIDC issuer (SPEC §4): a local issuer over real HTTP (discovery document and
// JWKS), its tokens sent to the API's route handlers over real HTTP. Accepted: a customer user named by the
// configured claim, keys rotated by the issuer; refused 401 invalid_token: expired, foreign or forged tokens, an
// HS256 token claiming the issuer, unknown, disabled and staff users, another audience.
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { testDb, unique } from "../../../tests/db.ts";
import { signKeyRegistration } from "../../api/sign.ts";
import { type ApiServer, ecKey, getToken, startApiServer } from "../../api/testing/api-server.ts";
import { env, overrideEnv } from "../../env.ts";
import { ensureHierarchy } from "../ca/hierarchy.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { createUser } from "../users/create-user.ts";

vi.mock("server-only", () => ({}));

const db = testDb();
const system = { type: "system", id: "test" } as const;
const original = env();
let api: ApiServer;
let idp: http.Server;
let issuer: string;
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 });
// what the issuer publishes: the EC key only once it has "rotated"
const published: { kid: string; key: KeyObject; alg: string }[] = [{ kid: "k1", key: rsa.publicKey, alg: "RS256" }];
const discoveryIssuer: string | null = null;

const names = { admin: "", viewer: "", staff: "", disabled: "" };
const AUDIENCE = "pss-app-client";
let customer: Awaited<ReturnType<typeof createCustomer>>;

beforeAll(async () => {
  idp = http.createServer(async (req, res) => {
    if (req.url === "/pool-1/.well-known/openid-configuration")
      return void res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ issuer: discoveryIssuer ?? issuer, jwks_uri: `${issuer}/jwks.json` }));
    if (req.url === "/pool-1/jwks.json") {
      const keys = await Promise.all(published.map(async (p) => ({ ...(await exportJWK(p.key)), kid: p.kid, alg: p.alg, use: "sig" })));
      return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys }));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => idp.listen(0, "127.0.0.1", r));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/pool-1`;
  await ensureHierarchy(system);
  api = await startApiServer();
  const tag = unique("oidc");
  names.admin = `admin-${tag}@example.test`;
  customer = await createCustomer(
    { name: `OIDC ${tag}`.replace(/-/g, " "), adminEmail: names.admin, adminPassword: "a-long-password-1" },
    system,
  );
  for (const [role, name] of [
    ["CUSTOMER_VIEWER", "viewer"],
    ["CUSTOMER_ADMIN", "disabled"],
  ] as const) {
    names[name] = `${name}-${tag}@example.test`;
    await createUser({ email: names[name], role, customerId: customer.customer.id }, system);
  }
  names.staff = `staff-${tag}@example.test`;
  await createUser({ email: names.staff, role: "STAFF", password: "a-long-password-1" }, system);
  await db.user.update({ where: { email: names.disabled }, data: { disabledAt: new Date() } });
  overrideEnv({ API_OIDC_ISSUER: issuer, API_OIDC_AUDIENCE: AUDIENCE });
});
afterAll(async () => {
  overrideEnv(original);
  await api?.close();
  await new Promise<void>((r) => idp?.close(() => r()));
});

/** An access token of the issuer for our audience, the email verified: RS256 with k1 unless told otherwise. */
function token(
  claims: Record<string, unknown>,
  opts: { kid?: string; key?: KeyObject; alg?: string; iss?: string; ttl?: number; age?: number } = {},
) {
  const now = Math.floor(Date.now() / 1000) - (opts.age ?? 0);
  return new SignJWT({ aud: AUDIENCE, email_verified: true, token_use: "access", ...claims })
    .setProtectedHeader({ alg: opts.alg ?? "RS256", kid: opts.kid ?? "k1" })
    .setIssuer(opts.iss ?? issuer)
    .setSubject("9f0e-external-subject")
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.age ?? 0) + (opts.ttl ?? 600))
    .sign(opts.key ?? rsa.privateKey);
}

async function call(bearer: string, method = "GET", path = "/api/v1/devices", body?: string) {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, ...(body ? { "content-type": "application/jose+json" } : {}) },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as { error?: { code?: string } }) : {} };
}

describe("customer API with an external OIDC issuer", () => {
  it("accepts a customer admin named by the email claim (any case): reads, and registers a key as that user", async () => {
    const t = await token({ email: names.admin.toUpperCase(), token_use: "access" });
    expect((await call(t)).status).toBe(200);
    const registered = await call(t, "POST", "/api/v1/payload-signing-keys", await signKeyRegistration(ecKey()));
    expect(registered.status).toBe(201);
    const event = await db.auditEvent.findFirstOrThrow({ where: { action: "signing_key.register", customerId: customer.customer.id } });
    const admin = await db.user.findUniqueOrThrow({ where: { email: names.admin } });
    expect(event).toMatchObject({ actorType: "user", actorId: admin.id, details: { uid: customer.user.uid } });
  });

  it("a viewer reads but may not write; the service's own client-credentials tokens still work", async () => {
    const viewer = await token({ email: names.viewer });
    expect((await call(viewer)).status).toBe(200);
    const write = await call(viewer, "POST", "/api/v1/payload-signing-keys", await signKeyRegistration(ecKey()));
    expect(write).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    const own = await getToken(api, customer.client.clientId, customer.client.clientSecret);
    expect((await call(own)).status).toBe(200);
  });

  it.each<[string, () => Promise<string>]>([
    ["expired", () => token({ email: names.admin }, { ttl: -60 })],
    ["signed by a key the issuer does not publish", () => token({ email: names.admin }, { key: stranger.privateKey })],
    ["HS256 with a made-up secret, claiming the issuer", () => hs256()],
    ["another issuer", () => token({ email: names.admin }, { iss: "https://idp.example.test/other" })],
    ["no email claim", () => token({ username: names.admin })],
    ["an email no user has", () => token({ email: `nobody-${unique()}@example.test` })],
    ["a staff member's email", () => token({ email: names.staff })],
    ["a disabled user's email", () => token({ email: names.disabled })],
    ["an email the issuer has not verified", () => token({ email: names.admin, email_verified: false })],
    ["a LIKE pattern for the victim's address", () => token({ email: `%${names.admin.slice(names.admin.indexOf("@"))}` })],
    ["one character short, with a wildcard", () => token({ email: `_${names.admin.slice(1)}` })],
    ["an ID token", () => token({ email: names.admin, token_use: "id" })],
    ["made for another application", () => token({ email: names.admin, aud: "another-app" })],
    ["older than 24 hours, though not expired", () => token({ email: names.admin }, { age: 25 * 3600 })],
  ])("refuses a token that is %s: 401 invalid_token", async (_name, make) => {
    expect(await call(await make())).toMatchObject({ status: 401, body: { error: { code: "invalid_token" } } });
  });

  it("the audience: the token's aud, or a Cognito access token's client_id (it has no aud), must name it", async () => {
    expect((await call(await token({ email: names.admin, aud: undefined, client_id: AUDIENCE }))).status).toBe(200);
    expect((await call(await token({ email: names.admin, aud: undefined, client_id: "another-app" }))).status).toBe(401);
    expect((await call(await token({ email: names.admin, aud: [AUDIENCE, "other"] }))).status).toBe(200);
  });

  it("maps a custom claim to the user's UID when configured so", async () => {
    overrideEnv({ API_OIDC_USER_CLAIM: "custom:pss_uid", API_OIDC_USER_FIELD: "uid" });
    try {
      expect((await call(await token({ "custom:pss_uid": customer.user.uid }))).status).toBe(200);
      expect((await call(await token({ email: names.admin }))).status).toBe(401);
    } finally {
      overrideEnv({ API_OIDC_USER_CLAIM: "email", API_OIDC_USER_FIELD: "email" });
    }
  });

  it("follows the issuer's key rotation: a token of a newly published key is accepted once the JWKS is fetched again", async () => {
    published.push({ kid: "k2", key: ec.publicKey, alg: "ES256" });
    const rotated = await token({ email: names.admin }, { kid: "k2", key: ec.privateKey, alg: "ES256" });
    // the key set is fetched again at most every 10 s (a flood of unknown kids cannot hammer the issuer)
    await expect.poll(async () => (await call(rotated)).status, { timeout: 20_000, interval: 1_000 }).toBe(200);
  }, 30_000);
});

/** An HS256 token naming the external issuer, keyed with a secret anyone could pick. */
function hs256() {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ email: names.admin })
    .setProtectedHeader({ alg: "HS256", kid: "k1" })
    .setIssuer(issuer)
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(new TextEncoder().encode("a-secret-anyone-could-pick-0123456789"));
}
