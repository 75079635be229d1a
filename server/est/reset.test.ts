// Resetting a device id (SPEC §5: an id that has held a certificate answers simpleenroll with 409 "until an admin
// resets it"): the reset revokes what the device holds, and its next simpleenroll re-enrolls the same device, once —
// over real mutual TLS, through the group commit (no policy) and through the policy transaction (budget, secret).
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { getToken, startApiServer } from "../../lib/api/testing/api-server.ts";
import { activeCa } from "../../lib/data/ca/hierarchy.ts";
import { addDeviceSecret, releaseBootstrap, setEnrollmentPolicy } from "../../lib/data/enrollment/manage-policy.ts";
import { decommissionDevice, resetDevice } from "../../lib/data/fleet/decommission-device.ts";
import { OPEN_RESET, revokeCa } from "../../lib/data/revocation/revoke-ca.ts";
import { revokeCertificate } from "../../lib/data/revocation/revoke-certificate.ts";
import { createUser } from "../../lib/data/users/create-user.ts";
import { db } from "../../lib/db/client.ts";
import { buildCsr, generateKey } from "../../lib/device-sdk/index.ts";
import { opensslAsync, scratchDir } from "../../lib/pki/testing/ca-fixture.ts";
import { testDb } from "../../tests/db.ts";
import { deviceCsr, enrolled, est, expectRefused, type Listener, newBootstrap, newCustomer, startListener, system } from "./testing.ts";

vi.mock("server-only", () => ({}));

testDb();
let l: Listener;
beforeAll(async () => {
  l = await startListener();
});
afterAll(() => l.close());

const deviceRow = (customerId: string, deviceId: string) =>
  db().device.findUniqueOrThrow({ where: { customerId_deviceId: { customerId, deviceId } } });

describe("reset a device id", () => {
  it("a device that lost its enrollment answer: 409 until reset, then it re-enrolls once as the same device", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    const first = await enrolled(l, c.customer.id, boot, "lost-1");
    const before = await deviceRow(c.customer.id, "lost-1");
    // the answer never arrived: the device asks again with a new key
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("lost-1")), 409, "device_exists");

    const r = await resetDevice({ deviceId: "lost-1", customerId: c.customer.id, reason: "superseded", actor: system });
    expect(r).toEqual({ deviceId: "lost-1", certificatesRevoked: 1 });
    await expect(resetDevice({ deviceId: "lost-1", customerId: c.customer.id, reason: "superseded", actor: system })).rejects.toMatchObject(
      {
        code: "already_reset",
        status: 409,
      },
    );
    // what the device held is refused at once, and listed in its issuer's new CRL
    await expectRefused(est(l, "simplereenroll", first, deviceCsr("lost-1")), 403, "cert_revoked");
    const old = await db().certificate.findUniqueOrThrow({ where: { serial: first.serial }, include: { issuer: true } });
    expect(old.revocationReason).toBe("superseded");
    const crl = await db().crl.findFirstOrThrow({ where: { caId: old.issuerId }, orderBy: { number: "desc" } });
    const dir = scratchDir();
    const text = await opensslAsync(["crl", "-inform", "DER", "-in", dir.write("ca.crl", crl.der), "-noout", "-text"]);
    dir.cleanup();
    // openssl pads serials to whole bytes: compare numbers
    const listed = [...text.out.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => BigInt(`0x${m[1]}`));
    expect(listed).toContain(BigInt(`0x${first.serial}`));

    const again = await enrolled(l, c.customer.id, boot, "lost-1");
    const after = await deviceRow(c.customer.id, "lost-1");
    expect(after.id).toBe(before.id);
    expect(after.resetAt).toBeNull();
    expect(after.enrolledAt.getTime()).toBeGreaterThan(before.enrolledAt.getTime());
    expect(after).toMatchObject({ status: "ACTIVE", currentSerial: again.serial, currentRevokedAt: null, enrolledById: boot.id });
    // once: the id is taken again, and the re-enrolled device rotates as usual
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("lost-1")), 409, "device_exists");
    expect((await est(l, "simplereenroll", again, deviceCsr("lost-1"))).status).toBe(200);
    const audit = await db().auditEvent.findFirstOrThrow({
      where: { action: "device.reset", target: "device:lost-1", customerId: c.customer.id },
    });
    expect(audit.details).toMatchObject({ reason: "superseded", certificatesRevoked: 1, wasDecommissioned: false });
  });

  it("a reset device re-enrolls with the credential that enrolled it, or the one the admin names, never another", async () => {
    const c = await newCustomer();
    const lineA = await newBootstrap(c);
    const lineB = await newBootstrap(c);
    await enrolled(l, c.customer.id, lineA, "cl-1");
    await resetDevice({ deviceId: "cl-1", customerId: c.customer.id, reason: "keyCompromise", actor: system });
    // a clone with another production line's key cannot claim the id
    await expectRefused(est(l, "simpleenroll", lineB, deviceCsr("cl-1")), 403, "reset_credential_mismatch");
    await enrolled(l, c.customer.id, lineA, "cl-1");

    // line A's key leaked and was revoked: the admin names line B, whose budget counts the device as a new one
    await enrolled(l, c.customer.id, lineB, "cl-2");
    await setEnrollmentPolicy({ customerId: c.customer.id, bootstrapSerial: lineB.serial, maxEnrollments: 1 }, system);
    await resetDevice({ deviceId: "cl-1", customerId: c.customer.id, reason: "superseded", bootstrapSerial: lineB.serial, actor: system });
    await expectRefused(est(l, "simpleenroll", lineA, deviceCsr("cl-1")), 403, "reset_credential_mismatch");
    expect((await est(l, "simpleenroll", lineB, deviceCsr("cl-1"))).code).toBe("enrollment_budget_exceeded");
    await releaseBootstrap(c.customer.id, lineB.serial, system);
    await setEnrollmentPolicy({ customerId: c.customer.id, bootstrapSerial: lineB.serial, maxEnrollments: 2 }, system);
    await enrolled(l, c.customer.id, lineB, "cl-1");
    expect((await deviceRow(c.customer.id, "cl-1")).enrolledById).toBe(lineB.id);

    // a named credential must be the customer's, usable
    const other = await newCustomer();
    const foreign = await newBootstrap(other);
    await expect(
      resetDevice({ deviceId: "cl-2", customerId: c.customer.id, reason: "superseded", bootstrapSerial: foreign.serial, actor: system }),
    ).rejects.toMatchObject({ code: "certificate_not_found", status: 404 });
    await revokeCertificate({ serial: lineA.serial, reason: "keyCompromise", customerId: c.customer.id, actor: system });
    await expect(
      resetDevice({ deviceId: "cl-2", customerId: c.customer.id, reason: "superseded", bootstrapSerial: lineA.serial, actor: system }),
    ).rejects.toMatchObject({ code: "bootstrap_unusable", status: 409 });
    expect((await deviceRow(c.customer.id, "cl-2")).resetAt).toBeNull();
  });

  it("a revoked issuing CA resets what it cut off: each device re-enrolls once with a bootstrapping certificate issued since", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    const one = await enrolled(l, c.customer.id, boot, "cut-1");
    await enrolled(l, c.customer.id, boot, "cut-2");
    await enrolled(l, c.customer.id, boot, "cut-3");
    await decommissionDevice({ deviceId: "cut-3", customerId: c.customer.id, reason: "cessationOfOperation", actor: system });
    const before = await deviceRow(c.customer.id, "cut-1");
    const issuing = await activeCa({ kind: "CUSTOMER_TLS_ISSUING", customerId: c.customer.id });
    const r = await revokeCa({ caId: issuing.ca.id, reason: "keyCompromise", actor: system });
    expect(r).toMatchObject({ bootstrapRevoked: 1, devicesReset: 2 });
    expect((await deviceRow(c.customer.id, "cut-1")).resetOpen).toBe(true);
    // a decommissioned device stays so
    expect(await deviceRow(c.customer.id, "cut-3")).toMatchObject({ status: "DECOMMISSIONED", resetAt: null });
    await expectRefused(est(l, "simplereenroll", one, deviceCsr("cut-1")), 403, "cert_revoked");
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("cut-1")), 403, "cert_revoked");

    // the customer provisions new bootstrapping certificates: the first to enroll a device claims it
    const lineA = await newBootstrap(c);
    const lineB = await newBootstrap(c);
    await enrolled(l, c.customer.id, lineA, "cut-1");
    const after = await deviceRow(c.customer.id, "cut-1");
    expect(after).toMatchObject({ id: before.id, enrolledById: lineA.id, resetAt: null, resetFor: null, resetOpen: false });
    const current = await db().certificate.findFirstOrThrow({ where: { deviceRef: before.id, revokedAt: null } });
    expect(current.issuerId).toBe(r.replacementCaId);
    // once: the same or another credential then meets the usual 409
    await expectRefused(est(l, "simpleenroll", lineA, deviceCsr("cut-1")), 409, "device_exists");
    await expectRefused(est(l, "simpleenroll", lineB, deviceCsr("cut-1")), 409, "device_exists");
    await enrolled(l, c.customer.id, lineB, "cut-2");
    expect((await deviceRow(c.customer.id, "cut-2")).enrolledById).toBe(lineB.id);
    expect(await db().auditEvent.count({ where: { action: "ca.revoke", target: `ca:${issuing.ca.id}` } })).toBe(1);
  });

  it("an open reset is claimed only by a bootstrapping certificate issued after it, and a refused enrollment claims nothing", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    const spare = await newBootstrap(c);
    await enrolled(l, c.customer.id, boot, "cut-old");
    const issuing = await activeCa({ kind: "CUSTOMER_TLS_ISSUING", customerId: c.customer.id });
    // the spare is revoked with the rest; unrevoked for the test, it is still older than the reset
    await revokeCa({ caId: issuing.ca.id, reason: "keyCompromise", actor: system });
    await db().certificate.update({ where: { serial: spare.serial }, data: { revokedAt: null, revocationReason: null } });
    await expectRefused(est(l, "simpleenroll", spare, deviceCsr("cut-old")), 403, "reset_credential_mismatch");
    // a new certificate whose request is refused (its own key) claims nothing: another one still can
    const fresh = await newBootstrap(c);
    await expectRefused(est(l, "simpleenroll", fresh, buildCsr({ key: fresh.key, deviceId: "cut-old" })), 400, "csr_key_reused");
    expect(await deviceRow(c.customer.id, "cut-old")).toMatchObject({ resetOpen: true, resetFor: OPEN_RESET });
    const other = await newBootstrap(c);
    await enrolled(l, c.customer.id, other, "cut-old");
  });

  it("an admin names the credential of a pending reset (a CA revocation's too); without one a second reset is refused", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await enrolled(l, c.customer.id, boot, "repoint-1");
    const issuing = await activeCa({ kind: "CUSTOMER_TLS_ISSUING", customerId: c.customer.id });
    await revokeCa({ caId: issuing.ca.id, reason: "keyCompromise", actor: system });
    const line = await newBootstrap(c);
    const other = await newBootstrap(c);
    const reset = (bootstrapSerial?: string) =>
      resetDevice({
        deviceId: "repoint-1",
        customerId: c.customer.id,
        reason: "superseded",
        actor: system,
        ...(bootstrapSerial ? { bootstrapSerial } : {}),
      });
    await expect(reset()).rejects.toMatchObject({ code: "already_reset", status: 409 });
    expect(await reset(line.serial)).toEqual({ deviceId: "repoint-1", certificatesRevoked: 0 });
    expect(await deviceRow(c.customer.id, "repoint-1")).toMatchObject({ resetFor: line.id, resetOpen: false });
    await expectRefused(est(l, "simpleenroll", other, deviceCsr("repoint-1")), 403, "reset_credential_mismatch");
    await enrolled(l, c.customer.id, line, "repoint-1");
  });

  it("a CA revoked without the bootstrapping certificates: devices re-enroll with the one that enrolled them, not another", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await enrolled(l, c.customer.id, boot, "keep-1");
    const issuing = await activeCa({ kind: "CUSTOMER_TLS_ISSUING", customerId: c.customer.id });
    // keep-2's bootstrapping certificate has expired since: its reset is open
    const expired = await newBootstrap(c);
    await enrolled(l, c.customer.id, expired, "keep-2");
    await db().certificate.update({ where: { serial: expired.serial }, data: { notAfter: new Date(Date.now() - 1000) } });
    const r = await revokeCa({ caId: issuing.ca.id, reason: "superseded", revokeBootstrap: false, actor: system });
    expect(r).toMatchObject({ bootstrapRevoked: 0, devicesReset: 2 });
    expect(await deviceRow(c.customer.id, "keep-1")).toMatchObject({ resetFor: boot.id, resetOpen: false });
    expect(await deviceRow(c.customer.id, "keep-2")).toMatchObject({ resetOpen: true });
    const another = await newBootstrap(c);
    await expectRefused(est(l, "simpleenroll", another, deviceCsr("keep-1")), 403, "reset_credential_mismatch");
    await enrolled(l, c.customer.id, boot, "keep-1");
    await enrolled(l, c.customer.id, another, "keep-2");
  });

  it("two enrollments of a reset id at once: one re-enrolls it, the other is refused", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await enrolled(l, c.customer.id, boot, "race-1");
    await resetDevice({ deviceId: "race-1", customerId: c.customer.id, reason: "keyCompromise", actor: system });
    const results = await Promise.all([1, 2, 3].map(() => est(l, "simpleenroll", boot, deviceCsr("race-1"))));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    const certs = await db().certificate.findMany({ where: { customerId: c.customer.id, kind: "CLIENT_TLS", revokedAt: null } });
    expect(certs).toHaveLength(1);
    expect((await deviceRow(c.customer.id, "race-1")).currentSerial).toBe(certs[0].serial);
  });

  it("after a reset for keyCompromise the re-enrolled device gets no certificate for its old application key", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    const d = await enrolled(l, c.customer.id, boot, "app-1");
    const appKey = generateKey();
    expect((await est(l, "c2pa/simpleenroll", d, buildCsr({ key: appKey, deviceId: "app-1" }))).status).toBe(200);
    await resetDevice({ deviceId: "app-1", customerId: c.customer.id, reason: "keyCompromise", actor: system });
    const again = await enrolled(l, c.customer.id, boot, "app-1");
    await expectRefused(est(l, "c2pa/simpleenroll", again, buildCsr({ key: appKey, deviceId: "app-1" })), 400, "csr_key_compromised");
    expect((await est(l, "c2pa/simpleenroll", again, deviceCsr("app-1"))).status).toBe(200);
  });

  it("a reset then a decommissioning: the device is decommissioned, and a new reset brings it back", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await enrolled(l, c.customer.id, boot, "rd-1");
    const { id } = await deviceRow(c.customer.id, "rd-1");
    await resetDevice({ deviceRef: id, customerId: c.customer.id, reason: "superseded", actor: system });
    await decommissionDevice({ deviceRef: id, customerId: c.customer.id, reason: "cessationOfOperation", actor: system });
    expect(await deviceRow(c.customer.id, "rd-1")).toMatchObject({ status: "DECOMMISSIONED", resetAt: null });
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("rd-1")), 409, "device_exists");
    await resetDevice({ deviceRef: id, customerId: c.customer.id, reason: "superseded", actor: system });
    await enrolled(l, c.customer.id, boot, "rd-1");
  });

  it("a decommissioned device is recommissioned by a reset", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await enrolled(l, c.customer.id, boot, "refurb-1");
    const { id } = await deviceRow(c.customer.id, "refurb-1");
    await decommissionDevice({ deviceRef: id, customerId: c.customer.id, reason: "cessationOfOperation", actor: system });
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("refurb-1")), 409, "device_exists");
    // nothing left to revoke: the decommissioning did
    expect(await resetDevice({ deviceRef: id, customerId: c.customer.id, reason: "superseded", actor: system })).toMatchObject({
      certificatesRevoked: 0,
    });
    expect(await deviceRow(c.customer.id, "refurb-1")).toMatchObject({ status: "ACTIVE", decommissionedAt: null });
    await enrolled(l, c.customer.id, boot, "refurb-1");
  });

  it("a re-enrollment takes no place of the budget; a one-time secret must be issued anew", async () => {
    const c = await newCustomer();
    const boot = await newBootstrap(c);
    await setEnrollmentPolicy(
      { customerId: c.customer.id, bootstrapSerial: boot.serial, maxEnrollments: 1, requireDeviceSecret: true },
      system,
    );
    const { secret } = await addDeviceSecret({ customerId: c.customer.id, deviceId: "bud-1" }, system);
    expect((await est(l, "simpleenroll", boot, deviceCsr("bud-1", secret))).status).toBe(200);
    await resetDevice({ deviceId: "bud-1", customerId: c.customer.id, reason: "superseded", actor: system });
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("bud-1", secret)), 403, "device_secret_used");
    const fresh = await addDeviceSecret({ customerId: c.customer.id, deviceId: "bud-1" }, system);
    // the budget of one is spent by this very device: its re-enrollment is not a new device
    expect((await est(l, "simpleenroll", boot, deviceCsr("bud-1", fresh.secret))).status).toBe(200);
    expect((await db().certificate.findUniqueOrThrow({ where: { id: boot.id } })).quarantinedAt).toBeNull();
    const other = await addDeviceSecret({ customerId: c.customer.id, deviceId: "bud-2" }, system);
    await expectRefused(est(l, "simpleenroll", boot, deviceCsr("bud-2", other.secret)), 403, "enrollment_budget_exceeded");
  });

  it("the customer API: an admin's token resets, a viewer's may not, another customer's device id is a 404", async () => {
    const api = await startApiServer();
    try {
      const c = await newCustomer();
      const stranger = await newCustomer();
      const boot = await newBootstrap(c);
      await enrolled(l, c.customer.id, boot, "api-1");
      const viewer = await createUser(
        { email: `viewer-${c.customer.id}@example.test`, role: "CUSTOMER_VIEWER", customerId: c.customer.id },
        system,
        { withClient: true },
      );
      const reset = async (client: { clientId: string; clientSecret: string } | undefined, deviceId: string, body = "{}") =>
        fetch(`${api.url}/api/v1/devices/${encodeURIComponent(deviceId)}/reset`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${await getToken(api, client?.clientId ?? "", client?.clientSecret ?? "")}`,
            "content-type": "application/json",
          },
          body,
        });
      const refusedViewer = await reset(viewer.client, "api-1");
      expect(refusedViewer.status).toBe(403);
      expect(await refusedViewer.json()).toMatchObject({ error: { code: "forbidden" } });
      const foreign = await reset(stranger.client, "api-1");
      expect(foreign.status).toBe(404);
      expect(await foreign.json()).toMatchObject({ error: { code: "device_not_found" } });
      expect((await reset(c.client, "api-1", JSON.stringify({ reason: "bogus" }))).status).toBe(400);
      expect((await deviceRow(c.customer.id, "api-1")).resetAt).toBeNull();

      const ok = await reset(c.client, "api-1", JSON.stringify({ reason: "keyCompromise" }));
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ deviceId: "api-1", certificatesRevoked: 1 });
      expect((await reset(c.client, "api-1")).status).toBe(409);
      await enrolled(l, c.customer.id, boot, "api-1");
    } finally {
      await api.close();
    }
  });
});
