// The group-commit writer's statement (issue_batch): a batch is stored by one statement, and every row is
// decided as if the batch's issuances ran one after another. Runs on PGlite and PostgreSQL.
import { generateKeyPairSync, type KeyObject, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { dbLabel, testDb, unique } from "../../../tests/db.ts";
import { createCsr } from "../../pki/csr.ts";
import { ensureHierarchy, rotateCa } from "../ca/hierarchy.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { type IssueRequest, issueAndStore, prepare } from "./issue-certificate.ts";
import { storeBatch, writeIssuance } from "./write-batch.ts";

const db = testDb();
const system = { type: "system", id: "test" } as const;
const newKey = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;

async function onboard() {
  await ensureHierarchy(system);
  const c = await createCustomer(
    { name: unique("Batch").replace(/-/g, " "), adminEmail: `${unique()}@batch.test`, adminPassword: "a-long-password-1" },
    system,
  );
  const request = (deviceId: string, key: KeyObject = newKey(), extra: Partial<IssueRequest> = {}): IssueRequest => ({
    profile: "client-tls",
    csr: createCsr({ key, subject: [] }),
    deviceId,
    customerId: c.customer.id,
    uid: c.user.uid,
    actor: system,
    ...extra,
  });
  return { ...c, request };
}

const outcome = (r: unknown) => (r instanceof Error ? (r as { code?: string }).code : "ok");

describe(`issuance batch writer (${dbLabel()})`, () => {
  it("decides each row in order: key reuse, an existing device on create, a rotated issuer refuse that row only", async () => {
    const a = await onboard();
    const b = await onboard();
    const reused = newKey();
    const dev = unique("dev");
    // b's issuer is signed with, then rotated away before the write
    const stale = await prepare(b.request(unique("stale")));
    await rotateCa(stale.issuer.ca.id, system);
    const requests = [
      a.request(unique("k1"), reused, { requireNewKey: true }),
      a.request(unique("k2"), reused, { requireNewKey: true }), // certified by the row before
      a.request(dev, newKey(), { device: "create" }),
      a.request(dev, newKey(), { device: "create" }), // created by the row before
      a.request(dev), // upsert: a rotation of the device the batch created
      a.request(unique("c2pa"), newKey(), { profile: "c2pa" }),
    ];
    const prepared = await Promise.all(requests.map((r) => prepare(r)));
    const settled = await storeBatch([
      ...requests.map((req, i) => ({ req, prepared: prepared[i] })),
      { req: b.request(unique("stale")), prepared: stale },
    ]);
    expect(settled.map(outcome)).toEqual(["ok", "csr_key_reused", "ok", "device_exists", "ok", "ok", "issuer_changed"]);

    const stored = await db.certificate.findMany({ where: { customerId: a.customer.id }, orderBy: { createdAt: "asc" } });
    const serials = settled.flatMap((r) => (r instanceof Error ? [] : [r.serialHex]));
    expect(new Set(stored.map((c) => c.serial))).toEqual(new Set(serials));
    expect(await db.certificate.count({ where: { customerId: b.customer.id } })).toBe(0);
    expect(
      await db.auditEvent.count({ where: { action: "certificate.issue", target: { in: serials.map((s) => `certificate:${s}`) } } }),
    ).toBe(4);

    // the device created and then rotated in one batch: its current certificate is the later one
    const device = await db.device.findUniqueOrThrow({ where: { customerId_deviceId: { customerId: a.customer.id, deviceId: dev } } });
    const later = prepared[4].cert;
    expect(device).toMatchObject({
      currentSerial: later.serialHex,
      currentNotAfter: later.notAfter,
      uid: a.user.uid,
      currentRevokedAt: null,
    });
    expect(await db.certificate.count({ where: { deviceRef: device.id } })).toBe(2);
    // an application certificate creates its device but is never the current (Client TLS) certificate
    const app = await db.device.findFirstOrThrow({ where: { customerId: a.customer.id, deviceId: requests[5].deviceId } });
    expect(app.currentCertId).toBeNull();
  });

  it("an existing device rotates; an older certificate written after a newer one does not become current", async () => {
    const a = await onboard();
    const dev = unique("dev");
    await writeIssuance(a.request(dev), await prepare(a.request(dev)));
    const before = await db.device.findUniqueOrThrow({ where: { customerId_deviceId: { customerId: a.customer.id, deviceId: dev } } });

    const older = await prepare(a.request(dev));
    const newer = await prepare(a.request(dev));
    // as if two batches in flight committed in the opposite order: the newer certificate first
    older.cert.notAfter = new Date(newer.cert.notAfter.getTime() - 60_000);
    await writeIssuance(a.request(dev), newer);
    await writeIssuance(a.request(dev), older);
    const after = await db.device.findUniqueOrThrow({ where: { id: before.id } });
    expect(after.currentSerial).toBe(newer.cert.serialHex);
    expect(after.currentNotAfter).toEqual(newer.cert.notAfter);
    expect(after.lastRotatedAt!.getTime()).toBeGreaterThan(before.lastRotatedAt!.getTime());
    expect(await db.certificate.count({ where: { deviceRef: before.id } })).toBe(3);
  });

  it("refuses a row whose authenticating certificate was revoked or quarantined, or whose device was decommissioned", async () => {
    const a = await onboard();
    const auth = await issueAndStore(a.request(unique("auth")));
    const revoked = await issueAndStore(a.request(unique("revoked")));
    await db.certificate.update({ where: { id: revoked.id }, data: { revokedAt: new Date(), revocationReason: "keyCompromise" } });
    const quarantined = await issueAndStore(a.request(unique("quarantined")));
    await db.certificate.update({ where: { id: quarantined.id }, data: { quarantinedAt: new Date() } });
    const retired = unique("retired");
    await issueAndStore(a.request(retired));
    await db.device.updateMany({ where: { customerId: a.customer.id, deviceId: retired }, data: { status: "DECOMMISSIONED" } });

    const requests = [
      a.request(unique("n1"), newKey(), { authCertId: auth.id }),
      a.request(unique("n2"), newKey(), { authCertId: revoked.id }),
      a.request(unique("n3"), newKey(), { authCertId: quarantined.id }),
      a.request(retired),
    ];
    const prepared = await Promise.all(requests.map((r) => prepare(r)));
    const settled = await storeBatch(requests.map((req, i) => ({ req, prepared: prepared[i] })));
    expect(settled.map(outcome)).toEqual(["ok", "cert_revoked", "cert_revoked", "device_decommissioned"]);
    expect(await db.certificate.count({ where: { serial: { in: prepared.slice(1).map((p) => p.cert.serialHex) } } })).toBe(0);
  });
  it("a reset device: one create row from the credential the reset names re-enrolls it; another credential is refused", async () => {
    const a = await onboard();
    const dev = unique("reset");
    await issueAndStore(a.request(dev, newKey(), { device: "create" }));
    const named = randomUUID();
    await db.device.updateMany({ where: { customerId: a.customer.id, deviceId: dev }, data: { resetAt: new Date(), resetFor: named } });
    const requests = [
      a.request(dev, newKey(), { device: "create" }), // no credential (an enrollment group's, say)
      a.request(dev, newKey(), { device: "create", enrolledById: randomUUID() }), // another credential
      a.request(dev, newKey(), { device: "create", enrolledById: named }),
      a.request(dev, newKey(), { device: "create", enrolledById: named }), // once only
    ];
    const prepared = await Promise.all(requests.map((r) => prepare(r)));
    const settled = await storeBatch(requests.map((req, i) => ({ req, prepared: prepared[i] })));
    expect(settled.map(outcome)).toEqual(["reset_credential_mismatch", "reset_credential_mismatch", "ok", "device_exists"]);
    const device = await db.device.findUniqueOrThrow({ where: { customerId_deviceId: { customerId: a.customer.id, deviceId: dev } } });
    expect(device).toMatchObject({ resetAt: null, resetFor: null, enrolledById: named, currentSerial: prepared[2].cert.serialHex });
  });
});
