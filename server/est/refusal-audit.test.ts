// Refusals at the device API are audited (SPEC §7) — with the customer when the certificate is proven theirs,
// the certificate serial as actor, the reason code — and rate-limited so that no client floods the audit table:
// one row per (certificate or client address, code) and minute. Also: the per-bootstrapping-certificate limit of
// enrollment attempts (429 + Retry-After) as the enrollment policy sets it, and key newness decided atomically.
import { createPublicKey, KeyObject, randomInt } from "node:crypto";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SHED_MS } from "../../lib/data/api/rate-limit.ts";
import { auditRefusal, REFUSAL_AUDIT_WINDOW_SECONDS } from "../../lib/data/enrollment/issue.ts";
import { addDeviceSecret, addEnrollmentGroup, setEnrollmentPolicy } from "../../lib/data/enrollment/manage-policy.ts";
import { revokeCertificate } from "../../lib/data/revocation/revoke-certificate.ts";
import { db } from "../../lib/db/client.ts";
import { buildCsr, generateKey } from "../../lib/device-sdk/index.ts";
import { env } from "../../lib/env.ts";
import { AppError } from "../../lib/errors.ts";
import { keyFingerprint } from "../../lib/pki/csr.ts";
import { createHierarchy, EKU, issueCa, issueLeaf } from "../../lib/pki/testing/ca-fixture.ts";
import { groupVerification } from "../../lib/pki/testing/group-verification.ts";
import { freshWindow as freshMinute, testDb } from "../../tests/db.ts";
import { type Credential, enrolled, est, footprint, type Listener, newBootstrap, newCustomer, startListener, system } from "./testing.ts";

testDb();
let l: Listener;
beforeAll(async () => {
  l = await startListener();
});
afterAll(() => l.close());

type Cust = Awaited<ReturnType<typeof newCustomer>>;
const csrFor = (deviceId: string, key = generateKey(), challengePassword?: string) =>
  buildCsr({ key, deviceId, ...(challengePassword ? { challengePassword } : {}) });
/** A loopback address of its own per test: refusals keyed by client address do not meet other tests'. */
const ownAddress = () => `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

/** Wait, if needed, until the current audit window has at least `ms` left, so a burst stays inside one window. */
const freshWindow = (ms?: number) => freshMinute(ms, REFUSAL_AUDIT_WINDOW_SECONDS * 1000);

const refusals = (where: { target?: string; ip?: string; customerId?: string }) =>
  db().auditEvent.findMany({ where: { ...where, outcome: "refused" }, orderBy: { id: "asc" } });

let c: Cust;
let boot: Credential;
beforeAll(async () => {
  c = await newCustomer();
  boot = await newBootstrap(c);
});

describe("refusals of the authorizer are audited", () => {
  it("a revoked certificate of ours: the customer, the serial, the code", async () => {
    const d = await enrolled(l, c.customer.id, boot, "au-rev");
    await revokeCertificate({ serial: d.serial, reason: "keyCompromise", customerId: c.customer.id, actor: system });
    expect((await est(l, "c2pa/simpleenroll", d, csrFor("au-rev"))).code).toBe("cert_revoked");
    const [ev] = await refusals({ target: `certificate:${d.serial}` });
    expect(ev).toMatchObject({
      action: "device.application_enroll",
      actorType: "device",
      actorId: d.serial,
      customerId: c.customer.id,
      details: { code: "cert_revoked", status: 403 },
    });
  });

  it("a foreign certificate: its serial and address, no customer — even when it copies one of our serials", async () => {
    const from = ownAddress();
    const foreign = await createHierarchy("Evil");
    const cred = {
      keyPem: KeyObject.from(foreign.leaf.keys.privateKey).export({ type: "pkcs8", format: "pem" }) as string,
      chainPem: [foreign.leaf.pem, foreign.issuing.pem, foreign.intermediate.pem].join("\n"),
    };
    expect((await est(l, "simpleenroll", cred, csrFor("x-1"), undefined, from)).code).toBe("chain_untrusted");
    const rows = await refusals({ ip: from });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: "device.enroll", customerId: null, details: { code: "chain_untrusted" } });
    expect(rows[0].actorId).toMatch(/^[0-9a-f]+$/);
  });

  it("wrong kind and quarantine: audited with the customer; no client certificate (401): nothing", async () => {
    const from = ownAddress();
    expect((await est(l, "c2pa/simpleenroll", boot, csrFor("au-k"), undefined, from)).code).toBe("wrong_certificate_kind");
    const q = await newBootstrap(c);
    await db().certificate.update({ where: { id: q.id }, data: { quarantinedAt: new Date(), quarantineReason: "test" } });
    expect((await est(l, "simpleenroll", q, csrFor("au-q"), undefined, from)).code).toBe("bootstrap_quarantined");
    expect((await est(l, "simpleenroll", null, csrFor("au-n"), undefined, from)).status).toBe(401);
    const rows = await refusals({ ip: from });
    expect(rows.map((r) => [r.actorId, r.customerId, (r.details as { code: string }).code])).toEqual([
      [boot.serial, c.customer.id, "wrong_certificate_kind"],
      [q.serial, c.customer.id, "bootstrap_quarantined"],
    ]);
  });
});

describe("refusals of the enrollment use cases are audited", () => {
  it("409 already enrolled, policy, wrong secret, bad CSR", async () => {
    const cc = await newCustomer();
    const b = await newBootstrap(cc);
    await setEnrollmentPolicy({ customerId: cc.customer.id, denyDeviceIds: ["uc-denied"] }, system);
    await addDeviceSecret({ customerId: cc.customer.id, deviceId: "uc-secret" }, system);
    expect((await est(l, "simpleenroll", b, csrFor("uc-1"))).status).toBe(200);
    expect((await est(l, "simpleenroll", b, csrFor("uc-1"))).code).toBe("device_exists");
    expect((await est(l, "simpleenroll", b, csrFor("uc-denied"))).code).toBe("device_denied");
    expect((await est(l, "simpleenroll", b, csrFor("uc-secret", generateKey(), "not-the-secret-000"))).code).toBe("device_secret_invalid");
    expect((await est(l, "simpleenroll", b, "bm90IGEgY3Ny")).code).toBe("csr_malformed");
    const rows = await refusals({ customerId: cc.customer.id });
    expect(rows.map((r) => [r.action, r.actorId, (r.details as { code: string }).code])).toEqual([
      ["device.enroll", b.serial, "device_exists"],
      ["device.enroll", b.serial, "device_denied"],
      ["device.enroll", b.serial, "device_secret_invalid"],
      ["device.enroll", b.serial, "csr_malformed"],
    ]);
  });
});

describe("the refusal audit cannot be flooded", () => {
  it("one row per certificate, code and minute; the next window's row counts the rest", async () => {
    await freshWindow();
    const b = await newBootstrap(c);
    const before = await footprint();
    for (let i = 0; i < 12; i++) expect((await est(l, "simpleenroll", b, "bm90IGEgY3Ny")).code).toBe("csr_malformed");
    expect(await footprint()).toEqual(before);
    const rows = await refusals({ target: `certificate:${b.serial}` });
    expect(rows).toHaveLength(1);
    // the first refusal of the next window is written, with what this window did not write
    const next = new Date((Math.floor(Date.now() / 60_000) + 1) * 60_000 + 1);
    await auditRefusal(
      "device.enroll",
      new AppError("csr_malformed", "bad", 400),
      { serial: b.serial, customerId: c.customer.id, ip: null },
      {},
      next,
    );
    const after = await refusals({ target: `certificate:${b.serial}` });
    expect(after).toHaveLength(2);
    expect(after[1].details).toMatchObject({ code: "csr_malformed", repeatsNotWrittenLastWindow: 11 });
  });

  it("certificates nobody knows are counted by client address, whatever their serials", async () => {
    await freshWindow();
    const from = ownAddress();
    for (let i = 0; i < 4; i++) {
      const foreign = await createHierarchy(`Evil ${i}`);
      const cred = {
        keyPem: KeyObject.from(foreign.leaf.keys.privateKey).export({ type: "pkcs8", format: "pem" }) as string,
        chainPem: [foreign.leaf.pem, foreign.issuing.pem, foreign.intermediate.pem].join("\n"),
      };
      expect((await est(l, "simpleenroll", cred, csrFor(`f-${i}`), undefined, from)).code).toBe("chain_untrusted");
    }
    expect(await refusals({ ip: from })).toHaveLength(1);
  });
});

describe("enrollment attempts per bootstrapping certificate (SPEC §5 rate limits)", () => {
  it("over the limit → 429 with Retry-After, audited; other certificates unaffected; no write while refused", async () => {
    await freshWindow();
    const b = await newBootstrap(c);
    const limit = env().DEVICE_ENROLL_RATE_PER_MINUTE;
    const key = `enroll:bootstrap:${b.serial}`;
    const windowStart = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    // this window already holds `limit` attempts
    await db().rateLimitBucket.create({ data: { key, windowStart, count: limit } });
    const before = await footprint();
    const second = csrFor("rl-2");
    const r = await est(l, "simpleenroll", b, csrFor("rl-1"));
    const refusedAt = Date.now();
    expect(r).toMatchObject({ status: 429, code: "rate_limited" });
    expect(r.retryAfter).toBeGreaterThan(0);
    expect(r.retryAfter).toBeLessThanOrEqual(60);
    // refused in the process without counting again (for SHED_MS; the unit test in customer-api.test.ts pins it)
    expect((await est(l, "simpleenroll", b, second)).status).toBe(429);
    const count = (await db().rateLimitBucket.findUniqueOrThrow({ where: { key_windowStart: { key, windowStart } } })).count;
    if (Date.now() - refusedAt < SHED_MS) expect(count).toBe(limit + 1);
    expect(await footprint()).toEqual(before);
    expect((await refusals({ target: `certificate:${b.serial}` })).map((e) => (e.details as { code: string }).code)).toEqual([
      "rate_limited",
    ]);
    expect((await est(l, "simpleenroll", boot, csrFor("rl-other"))).status).toBe(200);
  });

  it("a bad CSR over the limit is refused as rate-limited, as any attempt (before the refusals of its content)", async () => {
    await freshWindow();
    const b = await newBootstrap(c);
    const key = `enroll:bootstrap:${b.serial}`;
    const windowStart = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    expect((await est(l, "simpleenroll", b, Buffer.from("not a CSR"))).code).toBe("csr_malformed");
    // the refused attempt was counted
    expect((await db().rateLimitBucket.findUniqueOrThrow({ where: { key_windowStart: { key, windowStart } } })).count).toBe(1);
    await db().rateLimitBucket.update({
      where: { key_windowStart: { key, windowStart } },
      data: { count: env().DEVICE_ENROLL_RATE_PER_MINUTE },
    });
    expect(await est(l, "simpleenroll", b, Buffer.from("not a CSR"))).toMatchObject({ status: 429, code: "rate_limited" });
  });
});

describe("enrollment rate limits of the enrollment policy (SPEC §5)", () => {
  const bucket = (key: string) =>
    db().rateLimitBucket.findUnique({
      where: { key_windowStart: { key, windowStart: new Date(Math.floor(Date.now() / 60_000) * 60_000) } },
    });

  it("a certificate's own limit, lower than the customer's, takes effect; a certificate without one gets the customer's", async () => {
    const cust = await newCustomer("Rate");
    const [own, plain] = [await newBootstrap(cust), await newBootstrap(cust)];
    await setEnrollmentPolicy({ customerId: cust.customer.id, enrollRatePerMinute: 3 }, system);
    await setEnrollmentPolicy({ customerId: cust.customer.id, bootstrapSerial: own.serial, enrollRatePerMinute: 1 }, system);
    await freshWindow();
    expect((await est(l, "simpleenroll", own, csrFor("rt-own-1"))).status).toBe(200);
    const before = await footprint();
    const refused = await est(l, "simpleenroll", own, csrFor("rt-own-2"));
    expect(refused).toMatchObject({ status: 429, code: "rate_limited" });
    expect(refused.retryAfter).toBeGreaterThan(0);
    // a refused attempt writes nothing but its count and its audit event
    expect(await footprint()).toEqual(before);
    expect((await refusals({ target: `certificate:${own.serial}` })).map((e) => (e.details as { code: string }).code)).toEqual([
      "rate_limited",
    ]);
    for (const id of ["rt-plain-1", "rt-plain-2", "rt-plain-3"]) expect((await est(l, "simpleenroll", plain, csrFor(id))).status).toBe(200);
    expect((await est(l, "simpleenroll", plain, csrFor("rt-plain-4"))).code).toBe("rate_limited");
    expect((await bucket(`enroll:bootstrap:${plain.serial}`))?.count).toBe(4);
  });

  it("0 on the certificate lifts every limit and counts nothing; inherit brings the customer's back", async () => {
    const cust = await newCustomer("Rate Zero");
    const b = await newBootstrap(cust);
    await setEnrollmentPolicy({ customerId: cust.customer.id, enrollRatePerMinute: 1 }, system);
    await setEnrollmentPolicy({ customerId: cust.customer.id, bootstrapSerial: b.serial, enrollRatePerMinute: 0 }, system);
    await freshWindow();
    const key = `enroll:bootstrap:${b.serial}`;
    const windowStart = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    // far over the customer's limit and the server default
    await db().rateLimitBucket.create({ data: { key, windowStart, count: env().DEVICE_ENROLL_RATE_PER_MINUTE + 10 } });
    expect((await est(l, "simpleenroll", b, csrFor("rz-1"))).status).toBe(200);
    expect((await bucket(key))?.count).toBe(env().DEVICE_ENROLL_RATE_PER_MINUTE + 10);
    await setEnrollmentPolicy({ customerId: cust.customer.id, bootstrapSerial: b.serial, enrollRatePerMinute: null }, system);
    expect((await est(l, "simpleenroll", b, csrFor("rz-2"))).code).toBe("rate_limited");
  });

  it("an enrollment group takes the customer-wide limit", async () => {
    const cust = await newCustomer("Rate Group");
    const root = await issueCa(`CN=Rate Maker ${randomInt(1e9)},O=Maker`, undefined);
    const group = await addEnrollmentGroup(
      {
        customerId: cust.customer.id,
        name: "maker",
        caCert: root.pem,
        verificationCert: await groupVerification(root, cust.customer.id),
        uid: cust.user.uid,
      },
      system,
    );
    await setEnrollmentPolicy({ customerId: cust.customer.id, enrollRatePerMinute: 1 }, system);
    const device = async (id: string) => {
      const leaf = await issueLeaf(root, { subject: `CN=${id},O=Maker`, san: {}, eku: [EKU.clientAuth] });
      return {
        keyPem: KeyObject.from(leaf.keys.privateKey).export({ type: "pkcs8", format: "pem" }) as string,
        chainPem: [leaf.pem, root.pem].join("\n"),
      };
    };
    await freshWindow();
    expect((await est(l, "simpleenroll", await device("rg-1"), csrFor("rg-1"))).status).toBe(200);
    expect((await est(l, "simpleenroll", await device("rg-2"), csrFor("rg-2"))).code).toBe("rate_limited");
    expect((await bucket(`enroll:group:${group.id}`))?.count).toBe(2);
  });
});

/**
 * POST each body to `op` at the same moment: every connection's TLS handshake is done first, then all requests
 * are written at once, so their checks run side by side on the server. Returns the statuses and codes.
 */
async function atOnce(requests: { cred: { keyPem: string; chainPem: string }; op: string; body: Buffer }[]) {
  const port = Number(new URL(l.url).port);
  const sockets = await Promise.all(
    requests.map(
      ({ cred }) =>
        new Promise<tls.TLSSocket>((resolve, reject) => {
          const s = tls.connect({ host: "127.0.0.1", port, ca: l.rootPem, servername: "localhost", cert: cred.chainPem, key: cred.keyPem });
          s.once("secureConnect", () => resolve(s));
          s.once("error", reject);
        }),
    ),
  );
  const answers = sockets.map(
    (s) =>
      new Promise<{ status: number; code?: string }>((resolve) => {
        let text = "";
        s.on("data", (d: Buffer) => {
          text += d.toString("latin1");
        });
        s.once("end", () => {
          const status = Number(text.slice(9, 12));
          resolve({ status, code: /"code":"([a-z_]+)"/.exec(text)?.[1] });
        });
      }),
  );
  sockets.forEach((s, i) => {
    const body = requests[i].body.toString("base64");
    s.write(
      `POST /.well-known/est/${requests[i].op} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/pkcs10\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
  });
  return Promise.all(answers);
}

// With PostgreSQL (TEST_DATABASE_URL, as CI runs it too) the requests' checks interleave, and without the
// lock taken in the issuing transaction several of them pass; the embedded PGlite answers in the same thread
// and tends to run one request's checks and write before the next request's.
describe("certificate requests per device (rotations, application certificates)", () => {
  it("over DEVICE_CERT_RATE_PER_HOUR → 429 with Retry-After, audited, nothing written; another device unaffected", async () => {
    const HOUR = 3_600_000;
    await freshMinute(15_000, HOUR);
    await freshWindow();
    const d = await enrolled(l, c.customer.id, boot, "cr-1");
    const other = await enrolled(l, c.customer.id, boot, "cr-2");
    const device = await db().device.findUniqueOrThrow({ where: { customerId_deviceId: { customerId: c.customer.id, deviceId: "cr-1" } } });
    const limit = env().DEVICE_CERT_RATE_PER_HOUR;
    // this hour already holds all but one of the device's requests
    const windowStart = new Date(Math.floor(Date.now() / HOUR) * HOUR);
    await db().rateLimitBucket.create({ data: { key: `certs:device:${device.id}`, windowStart, count: limit - 1 } });
    expect((await est(l, "c2pa/simpleenroll", d, csrFor("cr-1"))).status).toBe(200);
    const before = await footprint();
    const r = await est(l, "c2pa/simpleenroll", d, csrFor("cr-1"));
    expect(r).toMatchObject({ status: 429, code: "rate_limited" });
    expect(r.retryAfter).toBeGreaterThan(0);
    expect(r.retryAfter).toBeLessThanOrEqual(3600);
    expect((await est(l, "simplereenroll", d, csrFor("cr-1"))).status).toBe(429);
    expect(await footprint()).toEqual(before);
    expect((await refusals({ target: `certificate:${d.serial}` })).map((e) => (e.details as { code: string }).code)).toEqual([
      "rate_limited",
    ]);
    expect((await est(l, "c2pa/simpleenroll", other, csrFor("cr-2"))).status).toBe(200);
    expect((await est(l, "simplereenroll", other, csrFor("cr-2"))).status).toBe(200);
  });
});

describe("key newness is atomic", () => {
  it("concurrent enrollments with one key: exactly one succeeds", async () => {
    const key = generateKey();
    const ids = Array.from({ length: 6 }, (_, i) => `kr-${i}`);
    const results = await atOnce(ids.map((id) => ({ cred: boot, op: "simpleenroll", body: csrFor(id, key) })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status !== 200).map((r) => r.code)).toEqual(Array(5).fill("csr_key_reused"));
    const spki = (await db().certificate.findFirstOrThrow({ where: { device: { deviceId: { in: ids } } } })).spkiSha256;
    expect(await db().certificate.count({ where: { spkiSha256: spki } })).toBe(1);
  });

  it("rotations racing with one new key: one of them", async () => {
    const devices = await Promise.all(["kr-rot-1", "kr-rot-2", "kr-rot-3"].map((id) => enrolled(l, c.customer.id, boot, id)));
    const key = generateKey();
    const results = await atOnce(devices.map((d, i) => ({ cred: d, op: "simplereenroll", body: csrFor(`kr-rot-${i + 1}`, key) })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400]);
  });

  it("application enrollments of two devices with one key, and a rotation with it at once: one of them", async () => {
    const devices = await Promise.all(["kr-app-1", "kr-app-2", "kr-app-3"].map((id) => enrolled(l, c.customer.id, boot, id)));
    const key = generateKey();
    const results = await atOnce([
      { cred: devices[0], op: "c2pa/simpleenroll", body: csrFor("kr-app-1", key) },
      { cred: devices[1], op: "c2pa/simpleenroll", body: csrFor("kr-app-2", key) },
      { cred: devices[2], op: "simplereenroll", body: csrFor("kr-app-3", key) },
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400, 400]);
    expect(results.filter((r) => r.status === 400).map((r) => r.code)).toEqual(["csr_key_reused", "csr_key_reused"]);
    const spki = keyFingerprint(createPublicKey(key).export({ type: "spki", format: "der" }));
    expect(await db().certificate.count({ where: { spkiSha256: spki } })).toBe(1);
  });
});
