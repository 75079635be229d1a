// The hierarchy and the issuance use case against a real database, checked by openssl.
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { dbLabel, testDb, unique } from "../../../tests/db.ts";
import { createCsr } from "../../pki/csr.ts";
import { OID_CN, OID_SERIAL_NUMBER } from "../../pki/names.ts";
import { openssl, scratchDir } from "../../pki/testing/ca-fixture.ts";
import { issueAndStore } from "../certificates/issue-certificate.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { ensureHierarchy, rotateCa, rotationDue } from "./hierarchy.ts";
import { exportCaPem, listCas } from "./list-cas.ts";

const db = testDb();
const system = { type: "system", id: "test" } as const;

function deviceCsr(deviceId: string) {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return createCsr({
    key: privateKey,
    subject: [
      { oid: OID_CN, value: deviceId, encoding: "utf8" },
      { oid: OID_SERIAL_NUMBER, value: deviceId, encoding: "printable" },
    ],
  });
}

async function onboard() {
  await ensureHierarchy(system);
  return createCustomer(
    { name: unique("Acme").replace(/-/g, " "), adminEmail: `${unique()}@acme.test`, adminPassword: "a-long-password-1" },
    system,
  );
}

function verify(leafPem: string, chainPem: string[], purpose: string) {
  const s = scratchDir();
  try {
    const root = chainPem.at(-1)!;
    const untrusted = chainPem.slice(0, -1).join("");
    const args = ["verify", "-x509_strict", "-purpose", purpose, "-CAfile", s.write("root.pem", root)];
    if (untrusted) args.push("-untrusted", s.write("chain.pem", untrusted));
    return openssl([...args, s.write("leaf.pem", leafPem)]);
  } finally {
    s.cleanup();
  }
}

describe(`CA hierarchy and issuance (${dbLabel()})`, () => {
  it("pss init creates the system CAs once", async () => {
    await ensureHierarchy(system);
    expect((await ensureHierarchy(system)).created).toEqual([]);
    const kinds = await db.certificateAuthority.findMany({ where: { customerId: null, status: "ACTIVE" }, select: { kind: true } });
    expect(new Set(kinds.map((k) => k.kind))).toEqual(new Set(["ROOT", "BOOTSTRAP_INTERMEDIATE", "BOOTSTRAP_ISSUING", "TLS_INTERMEDIATE"]));
    const s = scratchDir();
    const text = openssl(["x509", "-noout", "-text", "-in", s.write("root.pem", await exportCaPem("root"))]).out;
    s.cleanup();
    expect(text).toMatch(/Subject: O = PSS, CN = PSS TLS Root CA G\d+/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).not.toContain("Extended Key Usage");
  });

  it("onboarding creates the customer's TLS issuing CA and c2pa Application CA under the TLS intermediate", async () => {
    const c = await onboard();
    const cas = await db.certificateAuthority.findMany({ where: { customerId: c.customer.id }, include: { parent: true } });
    expect(cas.map((ca) => [ca.kind, ca.profile, ca.parent?.kind]).sort()).toEqual([
      ["APPLICATION", "c2pa", "TLS_INTERMEDIATE"],
      ["CUSTOMER_TLS_ISSUING", null, "TLS_INTERMEDIATE"],
    ]);
    expect(cas.every((ca) => / G1$/.test(ca.subject))).toBe(true);
  });

  it.each([
    ["bootstrap", "sslclient", "TLS Web Client Authentication"],
    ["client-tls", "sslclient", "TLS Web Client Authentication"],
    ["c2pa", "any", "1.3.6.1.5.5.7.3.36"],
  ] as const)("issues %s certificates that openssl verifies to the root, UID in the SAN", async (profile, purpose, eku) => {
    const c = await onboard();
    const deviceId = unique("cam").replace(/[^A-Za-z0-9.:-]/g, "");
    const cert = await issueAndStore({ profile, csr: deviceCsr(deviceId), customerId: c.customer.id, uid: c.user.uid, actor: system });
    const r = verify(cert.pem, cert.chainPem, purpose);
    expect(r.out).toContain(": OK");
    const s = scratchDir();
    const text = openssl(["x509", "-noout", "-text", "-in", s.write("c.pem", cert.pem)]).out;
    s.cleanup();
    expect(text).toContain(`DirName:/UID=${c.user.uid}`);
    expect(text).toContain(eku);
    expect(cert.notAfter.getTime() - cert.notBefore.getTime()).toBe(365 * 86_400_000 + 5 * 60_000);
    const row = await db.certificate.findUniqueOrThrow({ where: { serial: cert.serialHex } });
    expect(row.customerId).toBe(c.customer.id);
    if (profile !== "bootstrap") expect(text).toContain(`URI:urn:pss:device:${deviceId}`);
  });

  it("issues the device listener's server certificate under the TLS intermediate", async () => {
    await ensureHierarchy(system);
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const cert = await issueAndStore({
      profile: "server",
      csr: createCsr({ key: privateKey }),
      dnsNames: ["localhost"],
      ipAddresses: ["127.0.0.1"],
      actor: system,
    });
    expect(verify(cert.pem, cert.chainPem, "sslserver").out).toContain(": OK");
    expect(cert.chainPem).toHaveLength(2);
  });

  it("a refused request writes no certificate and no device, only a refused audit event", async () => {
    const c = await onboard();
    const before = await db.certificate.count({ where: { customerId: c.customer.id } });
    await expect(
      issueAndStore({ profile: "client-tls", csr: deviceCsr("d".repeat(65)), customerId: c.customer.id, uid: c.user.uid, actor: system }),
    ).rejects.toMatchObject({ code: "csr_device_id_invalid" });
    await expect(
      issueAndStore({ profile: "client-tls", csr: "not a csr", customerId: c.customer.id, uid: c.user.uid, actor: system }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^csr_/) });
    expect(await db.certificate.count({ where: { customerId: c.customer.id } })).toBe(before);
    expect(await db.device.count({ where: { customerId: c.customer.id } })).toBe(0);
    expect(await db.auditEvent.count({ where: { customerId: c.customer.id, action: "certificate.issue", outcome: "refused" } })).toBe(2);
  });

  it("16 concurrent issuances for one issuer produce 16 unique serials and lose nothing", async () => {
    const c = await onboard();
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        issueAndStore({
          profile: "client-tls",
          csr: deviceCsr(`dev-${i}-${Date.now()}`),
          customerId: c.customer.id,
          uid: c.user.uid,
          actor: system,
        }),
      ),
    );
    expect(new Set(results.map((r) => r.serialHex)).size).toBe(16);
    expect(await db.certificate.count({ where: { customerId: c.customer.id } })).toBe(16);
    expect(await db.device.count({ where: { customerId: c.customer.id } })).toBe(16);
    for (const r of results) expect(r.serialHex).toMatch(/^[1-7][0-9a-f]{31}$|^[0-9a-f]{1,31}$/);
    // the batched write stores exactly what was signed: DER byte for byte, times to the millisecond, the
    // device's current-certificate columns, and an audit event per issuance with its details as JSON
    for (const r of results) {
      const row = await db.certificate.findUniqueOrThrow({ where: { serial: r.serialHex }, include: { device: true } });
      expect(Buffer.from(row.der).equals(Buffer.from(r.der))).toBe(true);
      expect(row.notBefore.getTime()).toBe(r.notBefore.getTime());
      expect(row.notAfter.getTime()).toBe(r.notAfter.getTime());
      expect(row).toMatchObject({ kind: "CLIENT_TLS", profile: "client-tls", uid: c.user.uid, spkiSha256: r.spkiSha256 });
      expect(row.device).toMatchObject({ currentCertId: row.id, currentSerial: r.serialHex, uid: c.user.uid });
      expect(row.device?.currentNotAfter?.getTime()).toBe(r.notAfter.getTime());
      const event = await db.auditEvent.findFirstOrThrow({ where: { target: `certificate:${r.serialHex}` } });
      expect(event).toMatchObject({ action: "certificate.issue", outcome: "success", actorType: "system", customerId: c.customer.id });
      expect(event.details).toMatchObject({ profile: "client-tls", deviceId: row.device?.deviceId });
    }
  });

  it("concurrent first enrollments of one device id (batched into one write): exactly one succeeds, the rest answer 409", async () => {
    const c = await onboard();
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () =>
        issueAndStore({
          profile: "client-tls",
          csr: deviceCsr("same-id"),
          device: "create",
          customerId: c.customer.id,
          uid: c.user.uid,
          actor: system,
        }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results.filter((r) => r.status === "rejected"))
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "device_exists", status: 409 });
    expect(await db.device.count({ where: { customerId: c.customer.id } })).toBe(1);
    expect(await db.certificate.count({ where: { customerId: c.customer.id } })).toBe(1);
  });

  it("rotation makes a new generation active; new issuance uses it; the old one is retired", async () => {
    const c = await onboard();
    const old = await db.certificateAuthority.findFirstOrThrow({ where: { customerId: c.customer.id, kind: "CUSTOMER_TLS_ISSUING" } });
    const { active, retired } = await rotateCa(old.id, system);
    expect(retired.status).toBe("RETIRED");
    expect(active.subject).toMatch(/ G2$/);
    expect(active.keyRef).not.toBe(old.keyRef);
    const cert = await issueAndStore({
      profile: "client-tls",
      csr: deviceCsr("rot-1"),
      customerId: c.customer.id,
      uid: c.user.uid,
      actor: system,
    });
    expect(cert.issuerId).toBe(active.id);
    expect(verify(cert.pem, cert.chainPem, "sslclient").out).toContain(": OK");
    await expect(rotateCa(old.id, system)).rejects.toMatchObject({ code: "ca_not_active" });
  });
});

describe("rotationDue (SPEC §2)", () => {
  const now = new Date("2030-01-01T00:00:00Z");
  const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000);
  const inYears = (y: number) => new Date(now.getTime() + y * 365.25 * 86_400_000);
  it.each([
    ["BOOTSTRAP_ISSUING", 89, inYears(2), null],
    ["BOOTSTRAP_ISSUING", 90, inYears(2), "older than 90 days"],
    ["BOOTSTRAP_INTERMEDIATE", 364, inYears(1.5), null],
    ["BOOTSTRAP_INTERMEDIATE", 365, inYears(1), "older than 365 days"],
    ["TLS_INTERMEDIATE", 100, inYears(9), null],
    ["TLS_INTERMEDIATE", 100, inYears(5), "less than its longest child validity + 30 days left"],
    // issuing CAs: their leaves (a year) are what they must outlive by 30 days
    ["CUSTOMER_TLS_ISSUING", 1500, inYears(2), null],
    ["CUSTOMER_TLS_ISSUING", 1500, inYears(1), "less than its longest child validity + 30 days left"],
    ["APPLICATION", 1500, inYears(0.5), "less than its longest child validity + 30 days left"],
    ["BOOTSTRAP_ISSUING", 10, inYears(1), "less than its longest child validity + 30 days left"],
    ["ROOT", 9000, inYears(1), null],
  ] as const)("%s created %i days ago, %s", (kind, age, notAfter, expected) => {
    expect(rotationDue({ kind, createdAt: daysAgo(age), notAfter }, now)).toBe(expected);
  });

  it("not due for lack of life when its issuer ends too soon for a new generation to have more", () => {
    // a Bootstrapping Issuing CA clamped to its intermediate's end: rotating it again would give the same end
    const clamped = { kind: "BOOTSTRAP_ISSUING" as const, createdAt: daysAgo(10), notAfter: inYears(1) };
    expect(rotationDue(clamped, now, inYears(1))).toBeNull();
    expect(rotationDue(clamped, now, inYears(1.5))).toBe("less than its longest child validity + 30 days left");
  });

  it("a customer's issuing CA with a month left is due, as the CA list shows it (its issuer has years)", async () => {
    const c = await onboard();
    const cas = await listCas({ customerId: c.customer.id });
    const issuing = cas.find((ca) => ca.kind === "CUSTOMER_TLS_ISSUING" && ca.status === "ACTIVE");
    expect(issuing?.rotationDue).toBeNull();
    // 4 years and 11 months on: the CA (5 years) has 40 days left, the TLS Intermediate (10 years) plenty
    const later = new Date(new Date(issuing?.notAfter ?? 0).getTime() - 40 * 86_400_000);
    const after = await listCas({ customerId: c.customer.id }, later);
    expect(after.find((ca) => ca.id === issuing?.id)?.rotationDue).toBe("less than its longest child validity + 30 days left");
    // the application CA too; nothing of the customer's that is retired
    expect(
      after
        .filter((ca) => ca.rotationDue)
        .map((ca) => ca.kind)
        .sort(),
    ).toEqual(["APPLICATION", "CUSTOMER_TLS_ISSUING"]);
  });
});
