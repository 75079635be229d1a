// The device authorizer against our records (SPEC §5): kind, customer and device come from the certificate's row,
// never from its text, so a certificate whose UID or device id disagrees with the row is refused; and the 72-hour
// supersession rule — an old Client TLS certificate stays valid until its replacement is first used or 72 h pass,
// then is refused and revoked as superseded, by the request that finds it or by the scheduled sweep.
// Its own database on PostgreSQL too: the sweep revokes stale certificates anywhere in the database.
import { describe, expect, it } from "vitest";
import { dbLabel, testDb } from "../../../tests/db.ts";
import { simpleEnroll, simpleReenroll } from "../enrollment/est-enroll.ts";
import { customerWithBootstrap, deviceCsr, identityOf } from "../enrollment/testing.ts";
import { SUPERSEDE_GRACE_MS, supersedeStale } from "./authorize.ts";

const db = testDb({ own: true });
const _system = { type: "system", id: "test" } as const;
const HOUR = 3_600_000;

const authorize = identityOf;

/** A customer's device, enrolled with a bootstrapping certificate: its Client TLS certificate. */
async function enrolledDevice(deviceId: string) {
  const { c, boot } = await customerWithBootstrap("Authz");
  const cert = await simpleEnroll({ identity: await identityOf(boot.der), csr: deviceCsr(deviceId) });
  return { c, cert };
}

/** The old certificate's row after a rotation: its revocation, if any. */
const revocationOf = (id: string) =>
  db.certificate.findUniqueOrThrow({ where: { id }, select: { revokedAt: true, revocationReason: true } });

describe(`the authorizer trusts our records, not the certificate's text (${dbLabel()})`, () => {
  it("a row whose UID differs from the certificate's → uid_mismatch; a device row whose id differs → device_id_mismatch", async () => {
    const { cert } = await enrolledDevice("authz-1");
    await expect(authorize(cert.der)).resolves.toMatchObject({ kind: "CLIENT_TLS", deviceId: "authz-1" });

    const row = await db.certificate.findUniqueOrThrow({ where: { id: cert.id }, select: { uid: true, deviceRef: true } });
    await db.certificate.update({ where: { id: cert.id }, data: { uid: "someone-else" } });
    await expect(authorize(cert.der)).rejects.toMatchObject({ code: "uid_mismatch", status: 403 });
    await db.certificate.update({ where: { id: cert.id }, data: { uid: row.uid } });

    await db.device.update({ where: { id: row.deviceRef! }, data: { deviceId: "authz-1-renamed" } });
    await expect(authorize(cert.der)).rejects.toMatchObject({ code: "device_id_mismatch", status: 403 });
    await db.device.update({ where: { id: row.deviceRef! }, data: { deviceId: "authz-1" } });
    await expect(authorize(cert.der)).resolves.toMatchObject({ deviceId: "authz-1" });
  });
});

describe(`72-hour supersession (${dbLabel()})`, () => {
  it("the old certificate works until 72 h after its replacement was issued; then it is refused and revoked as superseded", async () => {
    const { cert: old } = await enrolledDevice("sup-1");
    const next = await simpleReenroll({ identity: await authorize(old.der), csr: deviceCsr("sup-1") });
    const issued = (await db.certificate.findUniqueOrThrow({ where: { id: next.id } })).createdAt.getTime();

    await expect(authorize(old.der, new Date(issued + 71 * HOUR))).resolves.toMatchObject({ certId: old.id });
    expect(await revocationOf(old.id)).toEqual({ revokedAt: null, revocationReason: null });

    const at = new Date(issued + SUPERSEDE_GRACE_MS);
    await expect(authorize(old.der, at)).rejects.toMatchObject({ code: "cert_superseded", status: 403 });
    expect(await revocationOf(old.id)).toEqual({ revokedAt: at, revocationReason: "superseded" });
    // the replacement, unused until now, is the device's certificate
    await expect(authorize(next.der, at)).resolves.toMatchObject({ certId: next.id });
  });

  it("the sweep revokes, 72 h on, the old certificates nobody presented again, and only those", async () => {
    const { cert: old } = await enrolledDevice("sup-2");
    const next = await simpleReenroll({ identity: await authorize(old.der), csr: deviceCsr("sup-2") });
    const { cert: unrotated } = await enrolledDevice("sup-3");
    const issued = (await db.certificate.findUniqueOrThrow({ where: { id: next.id } })).createdAt.getTime();

    expect(await supersedeStale(new Date(issued + 71 * HOUR))).toBe(0);
    expect((await revocationOf(old.id)).revokedAt).toBeNull();

    const at = new Date(issued + SUPERSEDE_GRACE_MS + 1000);
    expect(await supersedeStale(at)).toBeGreaterThanOrEqual(1);
    expect(await revocationOf(old.id)).toEqual({ revokedAt: at, revocationReason: "superseded" });
    expect((await revocationOf(next.id)).revokedAt).toBeNull();
    expect((await revocationOf(unrotated.id)).revokedAt).toBeNull();
    const audit = await db.auditEvent.findFirst({ where: { action: "certificate.revoke", target: `certificate:${old.serialHex}` } });
    expect(audit?.details).toMatchObject({ reason: "superseded" });
    // run again: nothing left to do
    expect(await supersedeStale(at)).toBe(0);
  });
});
