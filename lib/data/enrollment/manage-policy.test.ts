// The portal's enrollment use cases (SPEC §5, §8): device id lists from CSV, the customer-wide policy view,
// device secrets listed without their hashes, enrollment groups listed and disabled per tenant, a bootstrapping
// certificate issued with its policy in one transaction, the enrollment rate limit, and the paged bootstrap list.
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { dbLabel, testDb, unique } from "../../../tests/db.ts";
import { db } from "../../db/client.ts";
import { env } from "../../env.ts";
import { createCsr } from "../../pki/csr.ts";
import { toPem } from "../../pki/der.ts";
import { issueCa } from "../../pki/testing/ca-fixture.ts";
import { groupVerification } from "../../pki/testing/group-verification.ts";
import { parseDeviceIdList } from "../../validations/enrollment.ts";
import type { ApiCaller } from "../api/access-token.ts";
import { ensureHierarchy } from "../ca/hierarchy.ts";
import { issuePortalBootstrapCertificate } from "../certificates/issue-bootstrap-certificate.ts";
import { listBootstrapCertificates } from "../certificates/list-bootstrap-certificates.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { createUser } from "../users/create-user.ts";
import {
  addDeviceSecret,
  addEnrollmentGroup,
  customerPolicy,
  disableEnrollmentGroup,
  listDeviceSecrets,
  listEnrollmentGroups,
  registrationCode,
  setEnrollmentPolicy,
  showEnrollmentPolicies,
} from "./manage-policy.ts";
import { consumeDeviceSecret } from "./policy.ts";

vi.mock("server-only", () => ({}));
testDb();
const system = { type: "system", id: "test" } as const;

async function customer() {
  await ensureHierarchy(system);
  const c = await createCustomer(
    { name: unique("Enroll").replace(/-/g, " "), adminEmail: `${unique()}@e.test`, adminPassword: "a-long-password-1" },
    system,
  );
  const row = await db().user.findUniqueOrThrow({ where: { uid: c.user.uid }, select: { id: true } });
  const caller: ApiCaller = {
    clientId: `portal:${c.user.uid}`,
    customerId: c.customer.id,
    user: { id: row.id, uid: c.user.uid, role: "CUSTOMER_ADMIN" },
    actor: { type: "user", id: row.id, customerId: c.customer.id },
  };
  return { ...c, caller };
}

/** What the browser sends: a PEM CSR. */
const csr = () => toPem("CERTIFICATE REQUEST", createCsr({ key: generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey }));

describe("parseDeviceIdList", () => {
  const cases: [string, string, { ids: string[]; entries: number; invalid: { line: number; value: string }[] }][] = [
    ["one id per line", "cam-1\ncam-2\n", { ids: ["cam-1", "cam-2"], entries: 2, invalid: [] }],
    ["CRLF, BOM and blank lines", "\uFEFFcam-1\r\n\r\n cam-2 \r\n", { ids: ["cam-1", "cam-2"], entries: 2, invalid: [] }],
    ["a header line is skipped", "deviceId\ncam-1", { ids: ["cam-1"], entries: 1, invalid: [] }],
    ["header variants", "Device ID,serial\ncam-1,SN1", { ids: ["cam-1"], entries: 1, invalid: [] }],
    [
      "first CSV column, quoted",
      '"device_id","batch"\n"cam-1","b7"\ncam-2;b8\ncam-3\tb9',
      { ids: ["cam-1", "cam-2", "cam-3"], entries: 3, invalid: [] },
    ],
    ["repeats are dropped, counted as entries", "cam-1\ncam-1\ncam-2", { ids: ["cam-1", "cam-2"], entries: 3, invalid: [] }],
    ["only the first line may be a header", "cam-1\ndeviceId", { ids: ["cam-1", "deviceId"], entries: 2, invalid: [] }],
    [
      "bad ids with their line numbers",
      `cam-1\nbad id!\n\ncam_2\n${"x".repeat(65)}`,
      {
        ids: ["cam-1"],
        entries: 4,
        invalid: [
          { line: 2, value: "bad id!" },
          { line: 4, value: "cam_2" },
          { line: 5, value: "x".repeat(65) },
        ],
      },
    ],
    ["nothing", " \n\n", { ids: [], entries: 0, invalid: [] }],
  ];
  it.each(cases)("%s", (_name, text, want) => {
    expect(parseDeviceIdList(text)).toEqual(want);
  });
});

describe(`customer-wide policy (${dbLabel()})`, () => {
  it("the view shows list sizes and a preview, the budget and the quarantined count; the audit names sizes, not lists", async () => {
    const c = await customer();
    expect(await customerPolicy(c.customer.id)).toMatchObject({
      allow: { count: 0, preview: [] },
      maxEnrollments: null,
      requireDeviceSecret: false,
      updatedAt: null,
    });
    const allow = Array.from({ length: 25 }, (_, i) => `cam-${i}`);
    await setEnrollmentPolicy(
      { customerId: c.customer.id, allowDeviceIds: allow, denyDeviceIds: ["cam-3"], maxEnrollments: 40, requireDeviceSecret: true },
      c.caller.actor,
    );
    const p = await customerPolicy(c.customer.id, 3);
    expect(p).toMatchObject({
      allow: { count: 25, preview: ["cam-0", "cam-1", "cam-2"] },
      deny: { count: 1, preview: ["cam-3"] },
      maxEnrollments: 40,
      enrollUntil: null,
      requireDeviceSecret: true,
      quarantinedBootstrapCertificates: 0,
    });
    // fields not given keep their value
    await setEnrollmentPolicy({ customerId: c.customer.id, maxEnrollments: null }, c.caller.actor);
    expect(await customerPolicy(c.customer.id)).toMatchObject({ allow: { count: 25 }, maxEnrollments: null, requireDeviceSecret: true });
    const events = await db().auditEvent.findMany({
      where: { customerId: c.customer.id, action: "enrollment_policy.set" },
      orderBy: { id: "asc" },
    });
    expect(events.map((e) => e.target)).toEqual([`customer:${c.customer.id}`, `customer:${c.customer.id}`]);
    expect(events[0].details).toMatchObject({ allowDeviceIds: 25, denyDeviceIds: 1, maxEnrollments: 40, requireDeviceSecret: true });
    expect(JSON.stringify(events[0].details)).not.toContain("cam-7");
    expect(events[1].details).toEqual({ fields: ["maxEnrollments"], maxEnrollments: null });
  });
});

describe(`enrollment rate limit (${dbLabel()})`, () => {
  it("is set and cleared per scope; the view shows the limit in force and where it comes from; the audit names it", async () => {
    const c = await customer();
    const serverDefault = env().DEVICE_ENROLL_RATE_PER_MINUTE;
    const cert = await issuePortalBootstrapCertificate({ caller: c.caller, csr: csr(), policy: { enrollRatePerMinute: 7 } });
    const other = await issuePortalBootstrapCertificate({ caller: c.caller, csr: csr(), policy: {} });
    const view = async (serial?: string) => {
      const p = await customerPolicy(c.customer.id, 0, serial);
      return { own: p.enrollRatePerMinute, inForce: p.enrollRate };
    };
    expect(await view()).toEqual({ own: null, inForce: { perMinute: serverDefault, source: "server" } });
    expect(await view(cert.serialHex)).toEqual({ own: 7, inForce: { perMinute: 7, source: "certificate" } });
    expect(await view(other.serialHex)).toEqual({ own: null, inForce: { perMinute: serverDefault, source: "server" } });

    await setEnrollmentPolicy({ customerId: c.customer.id, enrollRatePerMinute: 30 }, c.caller.actor);
    expect(await view()).toEqual({ own: 30, inForce: { perMinute: 30, source: "customer" } });
    expect(await view(other.serialHex)).toEqual({ own: null, inForce: { perMinute: 30, source: "customer" } });
    // 0: no limit, and it is the certificate's own
    await setEnrollmentPolicy({ customerId: c.customer.id, bootstrapSerial: cert.serialHex, enrollRatePerMinute: 0 }, c.caller.actor);
    expect(await view(cert.serialHex)).toEqual({ own: 0, inForce: { perMinute: 0, source: "certificate" } });
    const list = await listBootstrapCertificates(c.customer.id);
    expect(Object.fromEntries(list.rows.map((r) => [r.serial, r.enrollRate]))).toEqual({
      [cert.serialHex]: { perMinute: 0, source: "certificate" },
      [other.serialHex]: { perMinute: 30, source: "customer" },
    });
    // null: inherit again; other fields keep their value
    await setEnrollmentPolicy({ customerId: c.customer.id, bootstrapSerial: cert.serialHex, enrollRatePerMinute: null }, c.caller.actor);
    expect(await view(cert.serialHex)).toEqual({ own: null, inForce: { perMinute: 30, source: "customer" } });
    expect((await showEnrollmentPolicies(c.customer.id)).defaultEnrollRatePerMinute).toBe(serverDefault);

    const events = await db().auditEvent.findMany({
      where: { customerId: c.customer.id, action: "enrollment_policy.set" },
      orderBy: { id: "asc" },
      select: { target: true, details: true },
    });
    expect(events.map((e) => e.details)).toEqual([
      expect.objectContaining({ enrollRatePerMinute: 7 }),
      { fields: ["enrollRatePerMinute"], enrollRatePerMinute: 30 },
      { fields: ["enrollRatePerMinute"], enrollRatePerMinute: 0 },
      { fields: ["enrollRatePerMinute"], enrollRatePerMinute: null },
    ]);
    expect(events.map((e) => e.target)).toEqual([
      `certificate:${cert.serialHex}`,
      `customer:${c.customer.id}`,
      `certificate:${cert.serialHex}`,
      `certificate:${cert.serialHex}`,
    ]);
  });

  it("refuses a negative, fractional or too high limit with policy_invalid and writes nothing; so does the database", async () => {
    const c = await customer();
    for (const bad of [-1, 2.5, 1_000_001])
      await expect(
        setEnrollmentPolicy({ customerId: c.customer.id, enrollRatePerMinute: bad, maxEnrollments: 5 }, system),
      ).rejects.toMatchObject({
        code: "policy_invalid",
        status: 400,
        message: expect.stringMatching(/^enrollRatePerMinute: /),
      });
    expect(await db().enrollmentPolicy.count({ where: { customerId: c.customer.id } })).toBe(0);
    expect(await db().auditEvent.count({ where: { customerId: c.customer.id, action: "enrollment_policy.set" } })).toBe(0);
    // a writer that skips the validation meets the check constraint
    for (const bad of [-1, 1_000_001])
      await expect(
        db().enrollmentPolicy.create({
          data: { customerId: c.customer.id, bootstrapCertId: null, allowDeviceIds: [], denyDeviceIds: [], enrollRatePerMinute: bad },
        }),
      ).rejects.toThrow(/EnrollmentPolicy_enrollRatePerMinute_range|check constraint/i);
    expect(await db().enrollmentPolicy.count({ where: { customerId: c.customer.id } })).toBe(0);
  });
});

describe(`enrollUntil (${dbLabel()})`, () => {
  it("is refused before 1970 or after 9999 with policy_invalid, and writes nothing (year 0000 once failed the save)", async () => {
    const c = await customer();
    for (const bad of ["0000-01-01T00:00:00Z", new Date("0000-01-01T00:00:00Z"), new Date(-1), new Date("+010000-01-01T00:00:00Z")])
      await expect(setEnrollmentPolicy({ customerId: c.customer.id, enrollUntil: bad }, system)).rejects.toMatchObject({
        code: "policy_invalid",
        status: 400,
        message: expect.stringMatching(/^enrollUntil: /),
      });
    expect(await db().enrollmentPolicy.count({ where: { customerId: c.customer.id } })).toBe(0);
    const at = new Date("9999-12-31T23:59:59.999Z");
    expect((await setEnrollmentPolicy({ customerId: c.customer.id, enrollUntil: at }, system)).enrollUntil).toEqual(at);
  });
});

describe(`concurrent saves (${dbLabel()})`, () => {
  it("of a new customer-wide policy leave exactly one row, holding one of the saves", async () => {
    const c = await customer();
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => i + 1).map((n) =>
        setEnrollmentPolicy({ customerId: c.customer.id, maxEnrollments: n }, c.caller.actor),
      ),
    );
    const rows = await db().enrollmentPolicy.findMany({ where: { customerId: c.customer.id, bootstrapCertId: null } });
    expect(rows).toHaveLength(1);
    expect(rows[0].maxEnrollments).toBeGreaterThan(0);
  });
});

describe(`device secrets (${dbLabel()})`, () => {
  it("are listed newest first, paged, per customer, without their hashes", async () => {
    const a = await customer();
    const b = await customer();
    const secrets = [];
    for (const id of ["s-1", "s-2", "s-3"])
      secrets.push((await addDeviceSecret({ customerId: a.customer.id, deviceId: id }, system)).secret);
    await addDeviceSecret({ customerId: b.customer.id, deviceId: "other" }, system);
    await db().deviceSecret.update({
      where: { customerId_deviceId: { customerId: a.customer.id, deviceId: "s-1" } },
      data: { usedAt: new Date() },
    });
    const first = await listDeviceSecrets(a.customer.id, { page: 1, size: 2 });
    expect(first).toMatchObject({ total: 3, page: 1, pages: 2 });
    const second = await listDeviceSecrets(a.customer.id, { page: 2, size: 2 });
    const all = [...first.rows, ...second.rows];
    expect(all.map((r) => r.deviceId).sort()).toEqual(["s-1", "s-2", "s-3"]);
    expect(all.find((r) => r.deviceId === "s-1")?.usedAt).toBeInstanceOf(Date);
    expect(Object.keys(all[0]).sort()).toEqual(["createdAt", "deviceId", "usedAt"]);
    for (const s of secrets) expect(JSON.stringify(all)).not.toContain(s);
    expect((await listDeviceSecrets(b.customer.id)).rows.map((r) => r.deviceId)).toEqual(["other"]);
  });
});

describe(`device secrets replaced during an enrollment (${dbLabel()})`, () => {
  it("the enrollment that checked the old secret consumes nothing: the replacement stays unused", async () => {
    const a = await customer();
    await addDeviceSecret({ customerId: a.customer.id, deviceId: "r-1" }, system);
    const where = { customerId_deviceId: { customerId: a.customer.id, deviceId: "r-1" } };
    // what the enrollment read and checked before its transaction
    const checked = (await db().deviceSecret.findUniqueOrThrow({ where })).secretHash;
    // an admin replaces the (leaked) secret meanwhile
    await addDeviceSecret({ customerId: a.customer.id, deviceId: "r-1" }, system);
    await expect(db().$transaction((tx) => consumeDeviceSecret(tx, a.customer.id, "r-1", checked, new Date()))).rejects.toMatchObject({
      code: "device_secret_used",
      status: 403,
    });
    const row = await db().deviceSecret.findUniqueOrThrow({ where });
    expect(row.secretHash).not.toBe(checked);
    expect(row.usedAt).toBeNull();
    // the secret it holds now is consumed once
    await db().$transaction((tx) => consumeDeviceSecret(tx, a.customer.id, "r-1", row.secretHash, new Date()));
    expect((await db().deviceSecret.findUniqueOrThrow({ where })).usedAt).toBeInstanceOf(Date);
  });
});

describe(`enrollment groups (${dbLabel()})`, () => {
  it("are listed without the CA bytes, disabled once and audited; another customer's group answers 404", async () => {
    const a = await customer();
    const b = await customer();
    const ca = await issueCa(`CN=Maker ${unique()},O=Maker`, undefined);
    const g = await addEnrollmentGroup(
      {
        customerId: a.customer.id,
        name: "line 1",
        caCert: ca.pem,
        verificationCert: await groupVerification(ca, a.customer.id),
        uid: a.user.uid,
      },
      a.caller.actor,
    );
    const [listed] = await listEnrollmentGroups(a.customer.id);
    expect(listed).toMatchObject({ id: g.id, name: "line 1", uid: a.user.uid, email: a.user.email, disabledAt: null });
    expect(listed).not.toHaveProperty("caCertDer");
    expect(await listEnrollmentGroups(b.customer.id)).toEqual([]);

    await expect(disableEnrollmentGroup({ customerId: b.customer.id, groupId: g.id }, b.caller.actor)).rejects.toMatchObject({
      code: "group_not_found",
      status: 404,
    });
    await expect(disableEnrollmentGroup({ customerId: a.customer.id, groupId: "not-a-uuid" }, system)).rejects.toMatchObject({
      status: 404,
    });
    const r = await disableEnrollmentGroup({ customerId: a.customer.id, groupId: g.id }, a.caller.actor);
    expect(r).toMatchObject({ id: g.id, alreadyDisabled: false });
    expect((await listEnrollmentGroups(a.customer.id))[0].disabledAt).toBeInstanceOf(Date);
    expect(await disableEnrollmentGroup({ customerId: a.customer.id, groupId: g.id }, a.caller.actor)).toMatchObject({
      alreadyDisabled: true,
    });
    expect(await db().auditEvent.count({ where: { action: "enrollment_group.disable", target: `group:${g.id}` } })).toBe(1);
  });

  it("refuse a disabled user's UID", async () => {
    const c = await customer();
    const u = await createUser(
      { email: `${unique()}@e.test`, role: "CUSTOMER_VIEWER", customerId: c.customer.id, password: "a-long-password-1" },
      system,
    );
    await db().user.update({ where: { uid: u.uid }, data: { disabledAt: new Date() } });
    const ca = await issueCa(`CN=Maker ${unique()},O=Maker`, undefined);
    const verificationCert = await groupVerification(ca, c.customer.id);
    await expect(
      addEnrollmentGroup({ customerId: c.customer.id, name: "g", caCert: ca.pem, verificationCert, uid: u.uid }, system),
    ).rejects.toMatchObject({ code: "user_disabled" });
    expect(await db().enrollmentGroup.count({ where: { customerId: c.customer.id } })).toBe(0);
  });

  it("take a verification certificate the CA signed with the customer's registration code as CN, valid now", async () => {
    const c = await customer();
    const other = await customer();
    const ca = await issueCa(`CN=Maker ${unique()},O=Maker`, undefined);
    const stranger = await issueCa(`CN=Stranger ${unique()},O=Other`, undefined);
    const code = registrationCode(c.customer.id);
    expect(code).toMatch(/^[0-9a-f]{32}$/);
    expect(registrationCode(c.customer.id)).toBe(code);
    expect(registrationCode(other.customer.id)).not.toBe(code);
    const add = (verificationCert: string | undefined) =>
      addEnrollmentGroup({ customerId: c.customer.id, name: "line", caCert: ca.pem, verificationCert, uid: c.user.uid }, system);
    const day = 86_400_000;
    const refused: [string | undefined, RegExp][] = [
      [undefined, /is missing/],
      ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", /cannot be parsed/],
      [await groupVerification(ca, c.customer.id, { subject: "CN=not-the-code" }), /registration code/],
      // another customer's code: a verification certificate is worth nothing to anyone else
      [await groupVerification(ca, other.customer.id), /registration code/],
      // the CA's name and identifiers, another key's signature
      [await groupVerification(ca, c.customer.id, { signingKeyOverride: stranger.keys.privateKey }), /not signed by the CA's key/],
      [await groupVerification(stranger, c.customer.id), /not signed by the CA's key/],
      [
        await groupVerification(ca, c.customer.id, { notBefore: new Date(Date.now() - 3 * day), notAfter: new Date(Date.now() - day) }),
        /not valid now/,
      ],
      [await groupVerification(ca, c.customer.id, { notBefore: new Date(Date.now() + day) }), /not valid now/],
    ];
    for (const [verificationCert, reason] of refused)
      await expect(add(verificationCert)).rejects.toMatchObject({
        code: "group_verification_invalid",
        status: 400,
        message: expect.stringMatching(reason),
      });
    expect(await db().enrollmentGroup.count({ where: { customerId: c.customer.id } })).toBe(0);
    expect(await db().auditEvent.count({ where: { action: "enrollment_group.add", customerId: c.customer.id } })).toBe(0);
    const g = await add(await groupVerification(ca, c.customer.id));
    expect(await db().enrollmentGroup.findUniqueOrThrow({ where: { id: g.id } })).toMatchObject({
      customerId: c.customer.id,
      name: "line",
    });
  });
});

describe(`portal bootstrapping certificate with its policy (${dbLabel()})`, () => {
  it("stores the certificate, its policy and their audit events together", async () => {
    const c = await customer();
    const until = new Date(Date.now() + 86_400_000);
    const r = await issuePortalBootstrapCertificate({
      caller: c.caller,
      csr: csr(),
      policy: { expectedDeviceIds: ["cam-1", "cam-2"], maxEnrollments: 3, enrollUntil: until },
    });
    const policy = await db().enrollmentPolicy.findFirstOrThrow({ where: { bootstrapCertId: r.id } });
    expect(policy).toMatchObject({ customerId: c.customer.id, allowDeviceIds: ["cam-1", "cam-2"], maxEnrollments: 3 });
    expect(policy.enrollUntil?.getTime()).toBe(until.getTime());
    const cert = await db().certificate.findUniqueOrThrow({ where: { id: r.id } });
    expect(cert).toMatchObject({ kind: "BOOTSTRAP", uid: c.user.uid, authorizedBy: `portal:${c.user.uid}` });
    const actions = await db().auditEvent.findMany({ where: { target: `certificate:${r.serialHex}` }, select: { action: true } });
    expect(actions.map((a) => a.action).sort()).toEqual(["certificate.issue", "enrollment_policy.set"]);
  });

  it("without policy fields stores no policy row; a refused request stores nothing but its audit event", async () => {
    const c = await customer();
    const plain = await issuePortalBootstrapCertificate({ caller: c.caller, csr: csr(), policy: {} });
    expect(await db().enrollmentPolicy.count({ where: { bootstrapCertId: plain.id } })).toBe(0);

    const before = await db().certificate.count({ where: { customerId: c.customer.id } });
    await expect(
      issuePortalBootstrapCertificate({
        caller: c.caller,
        csr: csr(),
        policy: { maxEnrollments: 2, enrollUntil: new Date(Date.now() - 1000) },
      }),
    ).rejects.toMatchObject({ code: "policy_invalid" });
    const viewer = { ...c.caller, user: { ...c.caller.user, role: "CUSTOMER_VIEWER" as const } };
    await expect(issuePortalBootstrapCertificate({ caller: viewer, csr: csr(), policy: { maxEnrollments: 2 } })).rejects.toMatchObject({
      status: 403,
    });
    expect(await db().certificate.count({ where: { customerId: c.customer.id } })).toBe(before);
    expect(await db().enrollmentPolicy.count({ where: { customerId: c.customer.id } })).toBe(0);
    const refusals = await db().auditEvent.findMany({
      where: { customerId: c.customer.id, action: "certificate.issue", outcome: "refused" },
      orderBy: { id: "asc" },
    });
    expect(refusals.map((e) => e.details)).toEqual([
      expect.objectContaining({ via: "portal", code: "policy_invalid" }),
      expect.objectContaining({ via: "portal", code: "forbidden" }),
    ]);
  });
});

describe(`bootstrap list paging (${dbLabel()})`, () => {
  it("pages newest first with the total; the budget falls back to the customer-wide policy", async () => {
    const c = await customer();
    await setEnrollmentPolicy({ customerId: c.customer.id, maxEnrollments: 9 }, system);
    const serials: string[] = [];
    for (let i = 0; i < 3; i++)
      serials.push(
        (await issuePortalBootstrapCertificate({ caller: c.caller, csr: csr(), policy: i === 0 ? { maxEnrollments: 1 } : {} })).serialHex,
      );
    const p1 = await listBootstrapCertificates(c.customer.id, { page: 1, size: 2 });
    const p2 = await listBootstrapCertificates(c.customer.id, { page: 2, size: 2 });
    expect({ total: p1.total, pages: p1.pages, page: p2.page }).toEqual({ total: 3, pages: 2, page: 2 });
    expect([...p1.rows, ...p2.rows].map((r) => r.serial)).toEqual([...serials].reverse());
    expect(p2.rows[0]).toMatchObject({ serial: serials[0], maxEnrollments: 1, status: "active", revokedAt: null });
    expect(p1.rows[0].maxEnrollments).toBe(9);
    expect((await listBootstrapCertificates(c.customer.id, { page: 0, size: 10_000 })).size).toBe(100);
  });
});
