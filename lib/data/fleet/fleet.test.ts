// The seeded fleet and the fleet query against a real database: filters and counts agree with the
// certificates themselves, every sort walks all devices by cursor with no overlap and no gap, and the
// denormalized current certificate follows issuance, rotation, revocation and decommissioning.
import { generateKeyPairSync } from "node:crypto";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { testDb, unique } from "../../../tests/db.ts";
import { createCsr } from "../../pki/csr.ts";
import { OID_CN, OID_SERIAL_NUMBER } from "../../pki/names.ts";
import { type FleetQuery, fleetQuerySchema } from "../../validations/fleet.ts";
import { ensureHierarchy } from "../ca/hierarchy.ts";
import { issueAndStore } from "../certificates/issue-certificate.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { revokeCertificate } from "../revocation/revoke-certificate.ts";
import { decommissionDevice } from "./decommission-device.ts";
import { exportDevicesCsv } from "./export-devices.ts";
import { type FleetRow, listDevices } from "./list-devices.ts";
import { seedDevices } from "./seed-devices.ts";

vi.mock("server-only", () => ({}));

const db = testDb();
const system = { type: "system", id: "test" } as const;
const N = 300;
const DAY = 86_400_000;
let customerId = "";
let uid = "";
const now = new Date();

const q = (over: Record<string, string>): FleetQuery => fleetQuerySchema.parse({ size: "40", ...over });

/** Every page of a query, following nextCursor. */
async function walk(over: Record<string, string>): Promise<FleetRow[]> {
  const rows: FleetRow[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await listDevices(q(cursor ? { ...over, cursor } : over), { customerId }, now);
    rows.push(...page.rows);
    if (!page.nextCursor) return rows;
    cursor = page.nextCursor;
  }
  throw new Error("too many pages");
}

/** Ground truth from the certificates, not from the denormalized columns: each device's newest Client TLS certificate. */
async function truth() {
  return db.$queryRaw<
    {
      id: string;
      deviceId: string;
      status: string;
      lastRotatedAt: Date;
      serial: string | null;
      notAfter: Date | null;
      revokedAt: Date | null;
    }[]
  >`SELECT d.id::text, d."deviceId", d.status::text, d."lastRotatedAt", c.serial, c."notAfter", c."revokedAt"
    FROM "Device" d LEFT JOIN LATERAL (SELECT serial, "notAfter", "revokedAt" FROM "Certificate" x
      WHERE x."deviceRef" = d.id AND x.kind = 'CLIENT_TLS' ORDER BY x."createdAt" DESC LIMIT 1) c ON true
    WHERE d."customerId" = ${customerId}::uuid`;
}

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

beforeAll(async () => {
  await ensureHierarchy(system);
  const c = await createCustomer(
    { name: unique("Fleet").replace(/-/g, " "), adminEmail: `${unique()}@fleet.test`, adminPassword: "a-long-password-1" },
    system,
  );
  customerId = c.customer.id;
  uid = c.user.uid;
  const r = await seedDevices({ devices: N, customerId, now });
  expect(r.devices).toBe(N);
  expect(r.certificates).toBeGreaterThanOrEqual(N);
  // a device with no Client TLS certificate at all: null expiry, sorted and paged like any other
  await db.device.create({ data: { customerId, deviceId: "zz-no-certificate" } });
});

describe("seed", () => {
  it("writes devices whose denormalized current certificate matches their newest certificate", async () => {
    const devices = await db.device.findMany({
      where: { customerId },
      select: { id: true, currentSerial: true, currentNotAfter: true, currentRevokedAt: true },
    });
    const byId = new Map((await truth()).map((t) => [t.id, t]));
    expect(devices).toHaveLength(N + 2); // the seeded ones, the template device, the one without a certificate
    for (const d of devices) {
      const t = byId.get(d.id)!;
      expect(d.currentSerial).toBe(t.serial);
      expect(d.currentNotAfter?.getTime() ?? null).toBe(t.notAfter?.getTime() ?? null);
      expect(d.currentRevokedAt?.getTime() ?? null).toBe(t.revokedAt?.getTime() ?? null);
    }
  });

  it("continues numbering on a second run", async () => {
    const c = await createCustomer({ name: unique("Fleet2").replace(/-/g, " "), adminEmail: `${unique()}@fleet.test` }, system);
    const a = await seedDevices({ devices: 3, customerId: c.customer.id });
    const b = await seedDevices({ devices: 2, customerId: c.customer.id });
    expect([a.firstDeviceId, a.lastDeviceId, b.firstDeviceId, b.lastDeviceId]).toEqual([
      "dev-0000001",
      "dev-0000003",
      "dev-0000004",
      "dev-0000005",
    ]);
  });
});

describe("fleet query", () => {
  const cases: { name: string; params: Record<string, string>; match: (t: Awaited<ReturnType<typeof truth>>[number]) => boolean }[] = [
    { name: "all", params: {}, match: () => true },
    {
      name: "active",
      params: { status: "active" },
      match: (t) => t.status === "ACTIVE" && !t.revokedAt && !!t.notAfter && t.notAfter > now,
    },
    { name: "revoked", params: { status: "revoked" }, match: (t) => t.status === "DECOMMISSIONED" || !!t.revokedAt },
    {
      name: "expired",
      params: { status: "expired" },
      match: (t) => t.status === "ACTIVE" && !t.revokedAt && !!t.notAfter && t.notAfter <= now,
    },
    {
      name: "overdue",
      params: { overdue: "1" },
      match: (t) => t.status === "ACTIVE" && t.lastRotatedAt.getTime() < now.getTime() - 30 * DAY,
    },
  ];
  for (const c of cases)
    for (const [sort, dir] of [
      ["enrolled", "desc"],
      ["expiry", "asc"],
      ["expiry", "desc"],
      ["rotation", "asc"],
    ] as const) {
      it(`${c.name}, by ${sort} ${dir}: cursor pages cover the filter exactly once, in order`, async () => {
        const expected = (await truth()).filter(c.match);
        const rows = await walk({ ...c.params, sort, dir });
        const ids = rows.map((r) => r.id);
        expect(new Set(ids).size).toBe(ids.length); // no overlap
        expect([...ids].sort()).toEqual(expected.map((t) => t.id).sort()); // no gap, nothing extra
        const key = (r: FleetRow) => (sort === "enrolled" ? r.enrolledAt : sort === "rotation" ? r.lastRotatedAt : r.notAfter);
        for (let i = 1; i < rows.length; i++) {
          const [a, b] = [key(rows[i - 1]), key(rows[i])];
          // nulls (no certificate) sort last ascending and first descending, as the index orders them
          if (a === null || b === null) expect(dir === "asc" ? a !== null || b === null : a === null || b !== null).toBe(true);
          else expect(dir === "asc" ? a <= b : a >= b).toBe(true);
        }
        const first = await listDevices(q({ ...c.params, sort, dir }), { customerId }, now);
        expect(first.totalExact).toBe(true);
        expect(first.total).toBe(expected.length);
      });
    }

  it("finds a device by device id prefix, SAN UID, current serial and an older serial", async () => {
    const prefix = await listDevices(q({ q: "dev-000001" }), { customerId }, now);
    expect(prefix.rows.map((r) => r.deviceId).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `dev-00000${10 + i}`));
    const byUid = await walk({ q: uid });
    expect(byUid.length).toBeGreaterThan(0);
    expect(byUid.every((r) => r.uid === uid)).toBe(true);
    const d = await db.device.findFirstOrThrow({
      where: { customerId, deviceId: "dev-0000007" },
      select: { id: true, currentSerial: true },
    });
    expect((await listDevices(q({ q: d.currentSerial! }), { customerId }, now)).rows.map((r) => r.id)).toEqual([d.id]);
    const old = await db.certificate.findFirstOrThrow({
      where: { customerId, revocationReason: "superseded" },
      select: { serial: true, deviceRef: true },
    });
    expect((await listDevices(q({ q: old.serial.toUpperCase() }), { customerId }, now)).rows.map((r) => r.id)).toEqual([old.deviceRef]);
    expect((await listDevices(q({ q: "no-such-device" }), { customerId }, now)).rows).toEqual([]);
  });

  it("caps the count and estimates beyond it; another customer's scope sees none of these devices", async () => {
    const other = await listDevices(q({ q: "dev-0000001" }), { customerId: "00000000-0000-4000-8000-000000000000" }, now);
    expect(other.rows).toEqual([]);
    expect(other.total).toBe(0);
  });

  it("streams the CSV of the filter", async () => {
    const text = await new Response(exportDevicesCsv(q({ status: "revoked" }), { customerId })).text();
    const lines = text.trim().split("\n");
    expect(lines[0]).toMatch(/^device_id,/);
    expect(lines.length - 1).toBe((await truth()).filter(cases[2].match).length);
  });
});

describe("the current certificate follows issuance and revocation", () => {
  it("enrollment, rotation, revocation and decommissioning show in the fleet at once", async () => {
    const deviceId = unique("cam");
    const find = async () => (await listDevices(q({ q: deviceId }), { customerId }, now)).rows;
    const first = await issueAndStore({ profile: "client-tls", csr: deviceCsr(deviceId), customerId, uid, deviceId, actor: system });
    expect(await find()).toMatchObject([{ deviceId, serial: first.serialHex, uid, status: "active" }]);
    const second = await issueAndStore({ profile: "client-tls", csr: deviceCsr(deviceId), customerId, uid, deviceId, actor: system });
    expect((await find())[0].serial).toBe(second.serialHex);
    await revokeCertificate({ serial: first.serialHex, reason: "superseded", actor: system }); // not the current one
    expect((await find())[0].status).toBe("active");
    await revokeCertificate({ serial: second.serialHex, reason: "keyCompromise", actor: system });
    expect((await find())[0].status).toBe("revoked");
    const third = await issueAndStore({ profile: "client-tls", csr: deviceCsr(deviceId), customerId, uid, deviceId, actor: system });
    expect(await find()).toMatchObject([{ serial: third.serialHex, status: "active" }]);
    const [row] = await find();
    await decommissionDevice({ deviceRef: row.id, customerId, reason: "cessationOfOperation", actor: system });
    const d = await db.device.findUniqueOrThrow({ where: { id: row.id }, select: { currentRevokedAt: true, status: true } });
    expect(d.status).toBe("DECOMMISSIONED");
    expect(d.currentRevokedAt).not.toBeNull();
  });
});
