// Enrollment policy at the device API: allow/deny-lists, one-time secrets, one-time use, budget → quarantine,
// enrollment groups matched by the leaf-most CA of the verified chain (and no match → refused).
import { execFile } from "node:child_process";
import { createHash, KeyObject } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { activeCa } from "../../lib/data/ca/hierarchy.ts";
import { REVOKED_CA_TTL_MS } from "../../lib/data/devices/authorize.ts";
import { forgetPresentedMemo } from "../../lib/data/devices/presented-chains.ts";
import { rotationOverdue } from "../../lib/data/devices/rotation-overdue.ts";
import {
  addDeviceSecret,
  addEnrollmentGroup,
  releaseBootstrap,
  setEnrollmentPolicy,
  showEnrollmentPolicies,
} from "../../lib/data/enrollment/manage-policy.ts";
import { revokeCa } from "../../lib/data/revocation/revoke-ca.ts";
import { db } from "../../lib/db/client.ts";
import { buildCsr, generateKey } from "../../lib/device-sdk/index.ts";
import { sequence } from "../../lib/pki/der.ts";
import { EKU, issueCa, issueLeaf, type TestCert } from "../../lib/pki/testing/ca-fixture.ts";
import { groupVerification } from "../../lib/pki/testing/group-verification.ts";
import { freshWindow, testDb } from "../../tests/db.ts";
import { deviceCsr, est, expectRefused, footprint, type Listener, newBootstrap, newCustomer, startListener, system } from "./testing.ts";

testDb();
let l: Listener;
beforeAll(async () => {
  l = await startListener();
});
afterAll(() => l.close());

/** Register `ca` (PEM, or `caCert` as given) as customer `c`'s group, proving possession of its key. */
async function addGroup(c: Awaited<ReturnType<typeof newCustomer>>, name: string, ca: TestCert, caCert: string | Buffer = ca.pem) {
  const verificationCert = await groupVerification(ca, c.customer.id);
  return addEnrollmentGroup({ customerId: c.customer.id, name, caCert, verificationCert, uid: c.user.uid }, system);
}

describe("allow-list and deny-list", () => {
  it("customer-wide and per bootstrapping certificate lists both apply", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await setEnrollmentPolicy({ customerId: c.customer.id, allowDeviceIds: ["a-1", "a-2", "a-3"], denyDeviceIds: ["a-3"] }, system);
    await setEnrollmentPolicy({ customerId: c.customer.id, bootstrapSerial: boot.serial, allowDeviceIds: ["a-1", "a-3"] }, system);
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("zz-9")), 403, "device_not_allowed");
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("a-2")), 403, "device_not_allowed"); // not on the certificate's list
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("a-3")), 403, "device_denied");
    expect((await est(l, "simpleenroll", boot, deviceCsr("a-1"))).status).toBe(200);
    // one-time use: the same id again (even with a new key) is a conflict; re-enrollment is simplereenroll
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("a-1")), 409, "device_exists");
    const shown = await showEnrollmentPolicies(c.customer.id);
    expect(shown.policies.map((p) => p.scope)).toEqual(["customer", `bootstrap:${boot.serial}`]);
  });
});

describe("one-time device secret (CSR challengePassword)", () => {
  it("required, checked and consumed once", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await setEnrollmentPolicy({ customerId: c.customer.id, requireDeviceSecret: true }, system);
    const { secret } = await addDeviceSecret({ customerId: c.customer.id, deviceId: "s-1" }, system);
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("s-2", secret)), 403, "device_secret_required"); // none registered
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("s-1")), 403, "device_secret_required");
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("s-1", "wrong-secret-123456")), 403, "device_secret_invalid");
    expect((await est(l, "simpleenroll", boot, deviceCsr("s-1", secret))).status).toBe(200);
    const row = await db().deviceSecret.findUniqueOrThrow({
      where: { customerId_deviceId: { customerId: c.customer.id, deviceId: "s-1" } },
    });
    expect(row.usedAt).not.toBeNull();
    expect(row.secretHash).not.toContain(secret);
    // a replay of the same enrollment with a new key: the device exists
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("s-1", secret)), 409, "device_exists");
  });

  it("an enrollment sent again after its secret was consumed: the same certificate (its key proves the request)", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await setEnrollmentPolicy({ customerId: c.customer.id, requireDeviceSecret: true }, system);
    const { secret } = await addDeviceSecret({ customerId: c.customer.id, deviceId: "s-again" }, system);
    const key = generateKey();
    const csr = () => buildCsr({ key, deviceId: "s-again", challengePassword: secret });
    const first = await est(l, "simpleenroll", boot, csr());
    expect(first.status).toBe(200);
    const again = await est(l, "simpleenroll", boot, csr());
    expect([again.status, again.res?.body.toString()]).toEqual([200, first.res?.body.toString()]);
    // without the secret too (the SDK does not keep it): the key is the proof
    const bare = await est(l, "simpleenroll", boot, buildCsr({ key, deviceId: "s-again" }));
    expect([bare.status, bare.res?.body.toString()]).toEqual([200, first.res?.body.toString()]);
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("s-again", secret)), 409, "device_exists");
  });

  it("stored salted (scrypt); a row of the older unsalted SHA-256 form still verifies", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    const chosen = "correct horse battery staple";
    await addDeviceSecret({ customerId: c.customer.id, deviceId: "h-1", secret: chosen }, system);
    await addDeviceSecret({ customerId: c.customer.id, deviceId: "h-2", secret: chosen }, system);
    const rows = await db().deviceSecret.findMany({ where: { customerId: c.customer.id }, orderBy: { deviceId: "asc" } });
    expect(rows.map((r) => r.secretHash.split("$").slice(0, 4).join("$"))).toEqual(["scrypt$16384$8$1", "scrypt$16384$8$1"]);
    expect(rows[0].secretHash).not.toBe(rows[1].secretHash); // a salt per secret
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("h-1", `${chosen}!`)), 403, "device_secret_invalid");
    expect((await est(l, "simpleenroll", boot, deviceCsr("h-1", chosen))).status).toBe(200);
    const legacy = "legacy-secret-0123456789";
    await db().deviceSecret.create({
      data: { customerId: c.customer.id, deviceId: "h-3", secretHash: createHash("sha256").update(legacy).digest("hex") },
    });
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("h-3", `${legacy}x`)), 403, "device_secret_invalid");
    expect((await est(l, "simpleenroll", boot, deviceCsr("h-3", legacy))).status).toBe(200);
  });

  it("pss-device enroll reads the secret from a file, out of the process list; two secrets or a bad key type are usage errors", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await setEnrollmentPolicy({ customerId: c.customer.id, requireDeviceSecret: true }, system);
    const { secret } = await addDeviceSecret({ customerId: c.customer.id, deviceId: "cli-1" }, system);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-cli-secret-"));
    try {
      const file = (name: string, data: string) => {
        fs.writeFileSync(path.join(dir, name), data, { mode: 0o600 });
        return path.join(dir, name);
      };
      const common = ["bin/pss-device.mjs", "enroll", "--server", l.url, "--ca", file("ca.pem", l.rootPem), "--device-id", "cli-1"];
      const creds = ["--bootstrap-cert", file("boot.pem", boot.chainPem), "--bootstrap-key", file("boot.key", boot.keyPem)];
      const pssDevice = (args: string[]) =>
        new Promise<{ code: number; out: string }>((resolve) =>
          execFile(process.execPath, [...common, ...creds, ...args, "--json"], { encoding: "utf8", timeout: 30_000 }, (e, out) =>
            resolve({ code: e ? Number(e.code) : 0, out }),
          ),
        );
      const secretFile = file("secret", `${secret}\n`);
      const both = await pssDevice(["--secret-file", secretFile, "--secret", secret, "--dir", path.join(dir, "d0")]);
      expect({ code: both.code, error: JSON.parse(both.out).error.code }).toEqual({ code: 2, error: "usage" });
      // a value that looks like an option is a usage error too (generated secrets are hex: never one)
      expect(secret).toMatch(/^[0-9a-f]{32}$/);
      const dashed = await pssDevice(["--secret", "-looks-like-a-flag", "--dir", path.join(dir, "d0")]);
      expect({ code: dashed.code, error: JSON.parse(dashed.out).error.code }).toEqual({ code: 2, error: "usage" });
      const badType = await pssDevice(["--secret-file", secretFile, "--key-type", "rsa", "--dir", path.join(dir, "d0")]);
      expect({ code: badType.code, error: JSON.parse(badType.out).error.code }).toEqual({ code: 2, error: "usage" });
      const ok = await pssDevice(["--secret-file", secretFile, "--dir", path.join(dir, "d1")]);
      expect(ok.code, ok.out).toBe(0);
      expect(JSON.parse(ok.out)).toMatchObject({ deviceId: "cli-1", rotationDue: false });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("enrollment budget", () => {
  const PEM = "application/pem-certificate-chain";

  it("exceeding max devices quarantines the bootstrapping certificate, audited; release lifts it", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await setEnrollmentPolicy({ customerId: c.customer.id, bootstrapSerial: boot.serial, maxEnrollments: 2 }, system);
    expect((await est(l, "simpleenroll", boot, deviceCsr("b-1"))).status).toBe(200);
    expect((await est(l, "simpleenroll", boot, deviceCsr("b-2"))).status).toBe(200);
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("b-3")), 403, "enrollment_budget_exceeded");
    const row = await db().certificate.findUniqueOrThrow({ where: { id: boot.id } });
    expect(row.quarantinedAt).not.toBeNull();
    expect(await db().auditEvent.count({ where: { action: "bootstrap.quarantine", target: `certificate:${boot.serial}` } })).toBe(1);
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("b-4")), 403, "bootstrap_quarantined");
    await releaseBootstrap(c.customer.id, boot.serial, system);
    await setEnrollmentPolicy({ customerId: c.customer.id, bootstrapSerial: boot.serial, maxEnrollments: 3 }, system);
    expect((await est(l, "simpleenroll", boot, deviceCsr("b-4"))).status).toBe(200);
  });

  it("an enrollment sent again (its answer lost) takes no second place of the budget: the same certificate, no quarantine", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await setEnrollmentPolicy({ customerId: c.customer.id, bootstrapSerial: boot.serial, maxEnrollments: 1 }, system);
    const key = generateKey();
    const first = await est(l, "simpleenroll", boot, buildCsr({ key, deviceId: "once-1" }), PEM);
    expect(first.status).toBe(200);
    const before = await footprint();
    const again = await est(l, "simpleenroll", boot, buildCsr({ key, deviceId: "once-1" }), PEM);
    expect([again.status, again.res?.body.toString()]).toEqual([200, first.res?.body.toString()]);
    expect(await footprint()).toEqual(before);
    expect((await db().certificate.findUniqueOrThrow({ where: { id: boot.id } })).quarantinedAt).toBeNull();
    // the one place is taken: another device exceeds the budget
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("once-2")), 403, "enrollment_budget_exceeded");
  });

  it("an enrollment sent again counts as an attempt for the rate limit", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await setEnrollmentPolicy({ customerId: c.customer.id, bootstrapSerial: boot.serial, enrollRatePerMinute: 2 }, system);
    const key = generateKey();
    await freshWindow(); // the attempts below count in one minute
    expect((await est(l, "simpleenroll", boot, buildCsr({ key, deviceId: "rl-1" }))).status).toBe(200);
    expect((await est(l, "simpleenroll", boot, buildCsr({ key, deviceId: "rl-1" }))).status).toBe(200);
    expect(await est(l, "simpleenroll", boot, buildCsr({ key, deviceId: "rl-1" }))).toMatchObject({ status: 429, code: "rate_limited" });
  });

  it("twin enrollments under a budget of one, at once: both get the one certificate, no quarantine", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await setEnrollmentPolicy({ customerId: c.customer.id, bootstrapSerial: boot.serial, maxEnrollments: 1 }, system);
    const key = generateKey();
    const twins = await Promise.all([1, 2].map(() => est(l, "simpleenroll", boot, buildCsr({ key, deviceId: "twin-1" }), PEM)));
    expect(twins.map((r) => r.status)).toEqual([200, 200]);
    expect(twins[0].res?.body.toString()).toBe(twins[1].res?.body.toString());
    expect(await db().certificate.count({ where: { customerId: c.customer.id, kind: "CLIENT_TLS" } })).toBe(1);
    expect((await db().certificate.findUniqueOrThrow({ where: { id: boot.id } })).quarantinedAt).toBeNull();
  });

  it("a closed enrollment window (customer default) quarantines too", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await setEnrollmentPolicy({ customerId: c.customer.id, enrollUntil: new Date(Date.now() - 1000) }, system);
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("w-1")), 403, "enrollment_window_closed");
    expect((await db().certificate.findUniqueOrThrow({ where: { id: boot.id } })).quarantinedAt).not.toBeNull();
  });
});

describe("enrollment groups (customer-supplied manufacturer CA)", () => {
  let mfgRoot: TestCert;
  let mfgSub: TestCert;
  const credOf = (leaf: TestCert, ...chain: TestCert[]) => ({
    keyPem: KeyObject.from(leaf.keys.privateKey).export({ type: "pkcs8", format: "pem" }) as string,
    chainPem: [leaf.pem, ...chain.map((x) => x.pem)].join("\n"),
  });
  beforeAll(async () => {
    mfgRoot = await issueCa("CN=Maker Root CA,O=Maker", undefined);
    mfgSub = await issueCa("CN=Maker Line 7 CA,O=Maker", mfgRoot, { basicConstraints: { ca: true, pathLength: 0 } });
  });

  it("matches by the leaf-most CA of the verified chain; no match → 403", async () => {
    const b = await newCustomer("Beta");
    // Beta trusts the maker's root and, for its line-7 devices, the line-7 sub-CA: a line-7 device matches both,
    // and the leaf-most group takes it
    await addGroup(b, "maker", mfgRoot);
    const line7 = await addGroup(b, "line-7", mfgSub, mfgSub.der);
    await new Promise((r) => setTimeout(r, REVOKED_CA_TTL_MS + 50));
    const leaf = await issueLeaf(mfgSub, { subject: "CN=maker-0001,O=Maker", san: {}, eku: [EKU.clientAuth] });
    const r = await est(l, "simpleenroll", credOf(leaf, mfgSub, mfgRoot), deviceCsr("maker-0001"), "application/pem-certificate-chain");
    expect(r.status).toBe(200);
    const dev = await db().device.findUniqueOrThrow({
      where: { customerId_deviceId: { customerId: b.customer.id, deviceId: "maker-0001" } },
    });
    const cert = await db().certificate.findFirstOrThrow({ where: { deviceRef: dev.id } });
    expect(cert.uid).toBe(b.user.uid);
    expect(cert.authorizedBy).toBe(`group:${line7.id}`);
    // a device of another line (directly under the maker root) falls to the root's group
    const other = await issueLeaf(mfgRoot, { subject: "CN=maker-0002,O=Maker", san: {}, eku: [EKU.clientAuth] });
    expect((await est(l, "simpleenroll", credOf(other, mfgRoot), deviceCsr("maker-0002"))).status).toBe(200);
    expect(await db().device.count({ where: { customerId: b.customer.id, deviceId: "maker-0002" } })).toBe(1);
    // an unrelated maker → no group
    const stranger = await issueCa("CN=Other Maker CA,O=Other", undefined);
    const sleaf = await issueLeaf(stranger, { subject: "CN=x-1,O=Other", san: {}, eku: [EKU.clientAuth] });
    await expectRefused(est(l, "simpleenroll", credOf(sleaf, stranger), deviceCsr("x-1")), 403, "chain_untrusted");
    // group devices enroll only: not the application endpoint
    await expectRefused(est(l, "c2pa/simpleenroll", credOf(leaf, mfgSub, mfgRoot), deviceCsr("maker-0001")), 403, "wrong_certificate_kind");
  });

  it("after the customer's issuing CA is revoked, a maker's device re-enrolls through its group; an open reset is no group's to take", async () => {
    const c = await newCustomer("Cut Off");
    const root = await issueCa("CN=Cut Off Maker Root CA,O=Maker", undefined);
    await addGroup(c, "maker", root);
    await new Promise((r) => setTimeout(r, REVOKED_CA_TTL_MS + 50));
    const maker = (id: string) => issueLeaf(root, { subject: `CN=${id},O=Maker`, san: {}, eku: [EKU.clientAuth] });
    const grp = credOf(await maker("co-grp-1"), root);
    expect((await est(l, "simpleenroll", grp, deviceCsr("co-grp-1"))).status).toBe(200);
    const boot = await newBootstrap(c);
    expect((await est(l, "simpleenroll", boot, deviceCsr("co-bt-1"))).status).toBe(200);

    const issuing = await activeCa({ kind: "CUSTOMER_TLS_ISSUING", customerId: c.customer.id });
    expect(await revokeCa({ caId: issuing.ca.id, reason: "keyCompromise", actor: system })).toMatchObject({ devicesReset: 2 });
    const row = (deviceId: string) =>
      db().device.findUniqueOrThrow({ where: { customerId_deviceId: { customerId: c.customer.id, deviceId } } });
    expect(await row("co-grp-1")).toMatchObject({ resetFor: null, resetOpen: false });
    expect(await row("co-bt-1")).toMatchObject({ resetOpen: true });
    // whoever holds the maker's key mints a certificate for the open id: refused, nothing claimed
    await expectRefused(
      est(l, "simpleenroll", credOf(await maker("co-bt-1"), root), deviceCsr("co-bt-1")),
      403,
      "reset_credential_mismatch",
    );
    expect(await row("co-bt-1")).toMatchObject({ resetOpen: true });
    // the group's own device comes back through its group
    expect((await est(l, "simpleenroll", grp, deviceCsr("co-grp-1"))).status).toBe(200);
    expect(await row("co-grp-1")).toMatchObject({ resetAt: null });
  });

  it("a maker's device enrolls on a resumed TLS session too (the session keeps only its certificate, not the chain)", async () => {
    const c = await newCustomer("Resume");
    const root = await issueCa("CN=Resume Maker Root CA,O=Maker", undefined);
    const line = await issueCa("CN=Resume Maker Line CA,O=Maker", root, { basicConstraints: { ca: true, pathLength: 0 } });
    await addGroup(c, "resume", root);
    await new Promise((r) => setTimeout(r, REVOKED_CA_TTL_MS + 50));
    const cred = credOf(await issueLeaf(line, { subject: "CN=rs-0001,O=Maker", san: {}, eku: [EKU.clientAuth] }), line);
    const u = new URL(l.url);
    /** One HTTP/1.1 exchange on its own TLS connection; resumes `session` when given, returns the next one. */
    const exchange = (request: string, session?: Buffer) =>
      new Promise<{ response: string; session?: Buffer; reused: boolean }>((resolve, reject) => {
        let next: Buffer | undefined;
        let response = "";
        let reused = false;
        const socket = tls.connect(
          { host: u.hostname, port: Number(u.port), ca: l.rootPem, cert: cred.chainPem, key: cred.keyPem, ...(session ? { session } : {}) },
          () => {
            reused = socket.isSessionReused();
            socket.write(request);
          },
        );
        socket.on("session", (s: Buffer) => {
          next = s;
        });
        socket.on("data", (d) => {
          response += d.toString("latin1");
          const m = /content-length: (\d+)\r\n[\s\S]*?\r\n\r\n([\s\S]*)$/i.exec(response);
          if (m && Buffer.byteLength(m[2], "latin1") >= Number(m[1])) setTimeout(() => socket.end(), 50);
        });
        socket.on("close", () => resolve({ response, session: next, reused }));
        socket.on("error", reject);
      });
    const first = await exchange("GET /.well-known/est/cacerts HTTP/1.1\r\nHost: device\r\n\r\n");
    expect(first.response).toMatch(/^HTTP\/1\.1 200 /);
    // the chain is kept in the database: the session may resume in another process, which has no memo of it
    expect(await db().presentedChain.count({ where: { chain: Buffer.from(sequence(line.der)) } })).toBe(1);
    forgetPresentedMemo();
    const body = deviceCsr("rs-0001").toString("base64");
    const enroll = await exchange(
      `POST /.well-known/est/simpleenroll HTTP/1.1\r\nHost: device\r\nContent-Type: application/pkcs10\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      first.session,
    );
    expect(enroll.reused).toBe(true);
    expect(enroll.response).toMatch(/^HTTP\/1\.1 200 /);
    expect(await db().device.count({ where: { customerId: c.customer.id, deviceId: "rs-0001" } })).toBe(1);
  });

  it("another customer cannot claim the maker's CA, its issuer or a CA it issued; a chain to two customers is refused", async () => {
    const owner = await newCustomer("Owner");
    const root = await issueCa("CN=Owned Maker Root CA,O=Maker", undefined);
    const sub = await issueCa("CN=Owned Maker Line 1 CA,O=Maker", root, { basicConstraints: { ca: true, pathLength: 1 } });
    await addGroup(owner, "root", root);
    await addGroup(owner, "line-1", sub);
    const a = await newCustomer("Alpha");
    // Alpha holds these CAs' keys here (it proves possession): what stops it is the owner's claim
    const claim = (ca: TestCert, name: string) => addGroup(a, name, ca);
    await expect(claim(root, "same")).rejects.toMatchObject({ code: "group_ca_claimed", status: 409 });
    await expect(claim(sub, "sub")).rejects.toMatchObject({ code: "group_ca_claimed" });
    const line8 = await issueCa("CN=Owned Maker Line 8 CA,O=Maker", root, { basicConstraints: { ca: true, pathLength: 1 } });
    await expect(claim(line8, "line-8")).rejects.toMatchObject({ code: "group_ca_claimed" });
    // the refusal names no one
    await expect(claim(line8, "line-8")).rejects.toMatchObject({
      message: expect.not.stringMatching(/another customer/),
    });
    expect(await db().enrollmentGroup.count({ where: { customerId: a.customer.id } })).toBe(0);
    // a relation registration cannot see (through an intermediate it is never shown) is accepted there, and the
    // device is refused instead
    const mid = await issueCa("CN=Owned Maker Line 8 Sub CA,O=Maker", line8, { basicConstraints: { ca: true, pathLength: 0 } });
    await claim(mid, "deep");
    await new Promise((r) => setTimeout(r, REVOKED_CA_TTL_MS + 50));
    const leaf = await issueLeaf(mid, { subject: "CN=maker-0801,O=Maker", san: {}, eku: [EKU.clientAuth] });
    await expectRefused(est(l, "simpleenroll", credOf(leaf, mid, line8, root), deviceCsr("maker-0801")), 403, "group_ambiguous");
    await db().enrollmentGroup.updateMany({ where: { customerId: a.customer.id }, data: { disabledAt: new Date() } });
  });

  it("a customer cannot register another's maker CA without its key: that maker's devices never land in its fleet", async () => {
    const victim = await newCustomer("Victim");
    const attacker = await newCustomer("Attacker");
    const root = await issueCa("CN=Victim Maker Root CA,O=Maker", undefined);
    const line = await issueCa("CN=Victim Maker Line CA,O=Maker", root, { basicConstraints: { ca: true, pathLength: 1 } });
    const cell = await issueCa("CN=Victim Maker Cell CA,O=Maker", line, { basicConstraints: { ca: true, pathLength: 0 } });
    // the CA certificates are public, the keys are not: the attacker signs with a key of its own, or replays the
    // victim's verification certificate, for the CA itself or one two levels below the victim's future group
    const ownKey = await issueCa("CN=Attacker Key,O=Attacker", undefined);
    const forged = (ca: TestCert) => groupVerification(ca, attacker.customer.id, { issuer: ownKey, issuerNameOverride: ca.cert.subject });
    const attempts: [TestCert, string][] = [
      [root, await forged(root)],
      [cell, await forged(cell)],
      [root, await groupVerification(root, victim.customer.id)],
    ];
    for (const [ca, verificationCert] of attempts)
      await expect(
        addEnrollmentGroup(
          { customerId: attacker.customer.id, name: "stolen", caCert: ca.pem, verificationCert, uid: attacker.user.uid },
          system,
        ),
      ).rejects.toMatchObject({ code: "group_verification_invalid", status: 400 });
    expect(await db().enrollmentGroup.count({ where: { customerId: attacker.customer.id } })).toBe(0);
    // the victim, holding the key, registers its root: every device under it is the victim's, none ambiguous
    await addGroup(victim, "maker", root);
    await new Promise((r) => setTimeout(r, REVOKED_CA_TTL_MS + 50));
    const leaf = await issueLeaf(cell, { subject: "CN=victim-0001,O=Maker", san: {}, eku: [EKU.clientAuth] });
    expect((await est(l, "simpleenroll", credOf(leaf, cell, line, root), deviceCsr("victim-0001"))).status).toBe(200);
    expect(await db().device.count({ where: { deviceId: "victim-0001", customerId: victim.customer.id } })).toBe(1);
    expect(await db().device.count({ where: { deviceId: "victim-0001", customerId: attacker.customer.id } })).toBe(0);
  });

  it("a manufacturer's certificate enrolls the device it names (serialNumber, else CN) and no other", async () => {
    const c = await newCustomer("Gamma");
    const ca = await issueCa("CN=Gamma Maker CA,O=Maker", undefined);
    await addGroup(c, "line-9", ca);
    await new Promise((r) => setTimeout(r, REVOKED_CA_TTL_MS + 50));
    const byCn = credOf(await issueLeaf(ca, { subject: "CN=m9-0001,O=Maker", san: {}, eku: [EKU.clientAuth] }), ca);
    await expectRefused(est(l, "simpleenroll", byCn, deviceCsr("m9-0002")), 403, "device_id_mismatch");
    expect((await est(l, "simpleenroll", byCn, deviceCsr("m9-0001"))).status).toBe(200);
    const bySerial = credOf(
      await issueLeaf(ca, { subject: "CN=Widget,2.5.4.5=m9-0003,O=Maker", san: {}, eku: [EKU.clientAuth] }),
      ca,
      mfgRoot,
    );
    await expectRefused(est(l, "simpleenroll", bySerial, deviceCsr("Widget")), 403, "device_id_mismatch");
    expect((await est(l, "simpleenroll", bySerial, deviceCsr("m9-0003"))).status).toBe(200);
    const noId = credOf(await issueLeaf(ca, { subject: "O=Maker", san: {}, eku: [EKU.clientAuth] }), ca);
    await expectRefused(est(l, "simpleenroll", noId, deviceCsr("m9-0004")), 403, "device_id_mismatch");
  });
});

describe("enrollment groups under the customer-wide policy", () => {
  // each test its own maker CA: a group matches by it, and groups are looked up across customers
  async function makerGroup() {
    const c = await newCustomer("Maker");
    const ca = await issueCa(`CN=Maker ${Math.random().toString(36).slice(2, 8)} CA,O=Maker`, undefined);
    const group = await addGroup(c, "line", ca);
    // the authorizer's list of enabled groups is at most REVOKED_CA_TTL_MS old
    await new Promise((r) => setTimeout(r, REVOKED_CA_TTL_MS + 50));
    const device = async (deviceId: string, subject = `CN=${deviceId},O=Maker`) => {
      const leaf = await issueLeaf(ca, { subject, san: {}, eku: [EKU.clientAuth] });
      return {
        keyPem: KeyObject.from(leaf.keys.privateKey).export({ type: "pkcs8", format: "pem" }) as string,
        chainPem: [leaf.pem, ca.pem].join("\n"),
      };
    };
    const enroll = async (deviceId: string, subject?: string) =>
      est(l, "simpleenroll", await device(deviceId, subject), deviceCsr(deviceId));
    return { c, group, enroll };
  }

  it("allow- and deny-lists apply to group devices", async () => {
    const { c, enroll } = await makerGroup();
    await setEnrollmentPolicy({ customerId: c.customer.id, allowDeviceIds: ["g-1", "g-2"], denyDeviceIds: ["g-2"] }, system);
    await expectRefused(enroll("g-9"), 403, "device_not_allowed");
    await expectRefused(enroll("g-2"), 403, "device_denied");
    expect((await enroll("g-1")).status).toBe(200);
  });

  it("the customer's budget counts each group's enrollments: over it → refused and audited, until raised", async () => {
    const { c, group, enroll } = await makerGroup();
    await setEnrollmentPolicy({ customerId: c.customer.id, maxEnrollments: 2 }, system);
    expect((await enroll("m-1")).status).toBe(200);
    expect((await enroll("m-2")).status).toBe(200);
    await expectRefused(enroll("m-3"), 403, "group_budget_exceeded");
    const ev = await db().auditEvent.findFirst({
      where: { customerId: c.customer.id, action: "device.enroll", outcome: "refused" },
      orderBy: { id: "desc" },
    });
    expect(ev?.details).toMatchObject({ code: "group_budget_exceeded", groupId: group.id });
    expect(ev?.actorType).toBe("device");
    // refused, not disabled: no bootstrapping certificate to quarantine, and the group's other state stays
    expect((await db().enrollmentGroup.findUniqueOrThrow({ where: { id: group.id } })).disabledAt).toBeNull();
    // a bootstrapping certificate of the same customer has its own count
    const boot = await newBootstrap(c);
    expect((await est(l, "simpleenroll", boot, deviceCsr("m-boot"))).status).toBe(200);
    await setEnrollmentPolicy({ customerId: c.customer.id, maxEnrollments: 3 }, system);
    expect((await enroll("m-3")).status).toBe(200);
    await expectRefused(enroll("m-4"), 403, "group_budget_exceeded");
  });

  it("a maker's subject is read for its device id only: other attributes do not matter; an unreadable serialNumber names none (403, audited)", async () => {
    const { c, enroll } = await makerGroup();
    // x500UniqueIdentifier is a BIT STRING, no directory string: the device id is still the CN
    expect((await enroll("u-1", "CN=u-1,O=Maker,2.5.4.45=#030200ff")).status).toBe(200);
    // a PrintableString serialNumber holding "SN_1" ("_" is no PrintableString character): no device id we can read
    await expectRefused(enroll("u-2", "CN=u-2,O=Maker,2.5.4.5=#1304534e5f31"), 403, "device_id_mismatch");
    const ev = await db().auditEvent.findFirst({
      where: { customerId: c.customer.id, action: "device.enroll", outcome: "refused" },
      orderBy: { id: "desc" },
    });
    expect(ev?.details).toMatchObject({ code: "device_id_mismatch" });
  });

  it("a closed enrollment window refuses group devices", async () => {
    const { c, enroll } = await makerGroup();
    await setEnrollmentPolicy({ customerId: c.customer.id, enrollUntil: new Date(Date.now() - 1000) }, system);
    await expectRefused(enroll("w-1"), 403, "group_enrollment_window_closed");
  });
});

describe("rotation policy", () => {
  it("lists devices whose current Client TLS certificate is older than 30 days", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    expect((await est(l, "simpleenroll", boot, deviceCsr("r-1"))).status).toBe(200);
    expect((await est(l, "simpleenroll", boot, deviceCsr("r-2"))).status).toBe(200);
    await db().device.updateMany({
      where: { customerId: c.customer.id, deviceId: "r-1" },
      data: { lastRotatedAt: new Date(Date.now() - 31 * 86_400_000) },
    });
    const r = await rotationOverdue({ customerId: c.customer.id });
    expect(r.total).toBe(1);
    expect(r.devices[0]).toMatchObject({ deviceId: "r-1", ageDays: 31 });
    expect(r.devices[0].currentSerial).toMatch(/^[0-9a-f]+$/);
  });
});
