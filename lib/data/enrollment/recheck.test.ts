// The write re-checks what a device request's authorization rested on: the authorizer reads the client
// certificate a moment before the certificate is stored, and a revocation or decommissioning committed in
// between must refuse the request (cert_revoked / device_decommissioned) with nothing written — on the group
// commit's path (simpleenroll) and on the transactional one (application certificates). Runs on PGlite and
// PostgreSQL; the steps run one after another, as they interleave when the admin action commits mid-request.
import { describe, expect, it } from "vitest";
import { dbLabel, testDb } from "../../../tests/db.ts";
import { revokeCertificate } from "../revocation/revoke-certificate.ts";
import { applicationEnroll, simpleEnroll } from "./est-enroll.ts";
import { customerWithBootstrap, deviceCsr, identityOf } from "./testing.ts";

const db = testDb();
const system = { type: "system", id: "test" } as const;

describe(`the write re-checks the authenticating certificate and the device (${dbLabel()})`, () => {
  it("simpleenroll: a bootstrapping certificate revoked after the authorizer read it enrolls nothing", async () => {
    const { c, boot } = await customerWithBootstrap("Recheck");
    const identity = await identityOf(boot.der);
    await revokeCertificate({ serial: boot.serialHex, reason: "keyCompromise", actor: system });
    await expect(simpleEnroll({ identity, csr: deviceCsr("late-1") })).rejects.toMatchObject({ code: "cert_revoked", status: 403 });
    expect(await db.device.count({ where: { customerId: c.customer.id } })).toBe(0);
    expect(await db.certificate.count({ where: { customerId: c.customer.id, kind: "CLIENT_TLS" } })).toBe(0);
  });

  it("application certificates: a Client TLS certificate revoked, or a device decommissioned, after authorization gets none", async () => {
    const { c, boot } = await customerWithBootstrap("Recheck");
    const enrolled = await simpleEnroll({ identity: await identityOf(boot.der), csr: deviceCsr("app-1") });
    const device = await identityOf(enrolled.der);

    // the device row decommissioned (its certificate not yet revoked): device_decommissioned
    await db.device.update({ where: { id: device.deviceRef! }, data: { status: "DECOMMISSIONED", decommissionedAt: new Date() } });
    await expect(applicationEnroll({ identity: device, csr: deviceCsr("app-1"), profile: "c2pa" })).rejects.toMatchObject({
      code: "device_decommissioned",
      status: 403,
    });
    await db.device.update({ where: { id: device.deviceRef! }, data: { status: "ACTIVE", decommissionedAt: null } });

    // the Client TLS certificate revoked: cert_revoked
    await revokeCertificate({ serial: enrolled.serialHex, customerId: c.customer.id, reason: "keyCompromise", actor: system });
    await expect(applicationEnroll({ identity: device, csr: deviceCsr("app-1"), profile: "c2pa" })).rejects.toMatchObject({
      code: "cert_revoked",
      status: 403,
    });
    expect(await db.certificate.count({ where: { customerId: c.customer.id, kind: "APPLICATION" } })).toBe(0);
  });
});
