// The seeded fleet and the fleet query against a real database: filters and counts agree with the
// certificates themselves, every sort walks all devices by cursor with no overlap and no gap, the
// denormalized current certificate follows issuance, rotation, revocation and decommissioning, the stored
// classes never give a stale answer as time passes (swept or not), quarantine follows the bootstrapping
// certificate, and the overview's numbers match the data.
import { generateKeyPairSync } from "node:crypto";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { dbLabel, testDb, unique } from "../../../tests/db.ts";
import { createCsr } from "../../pki/csr.ts";
import { OID_CN, OID_SERIAL_NUMBER } from "../../pki/names.ts";
import { type FleetQuery, fleetQuerySchema } from "../../validations/fleet.ts";
import { ensureHierarchy } from "../ca/hierarchy.ts";
import { issueAndStore } from "../certificates/issue-certificate.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { ROTATION_OVERDUE_DAYS } from "../devices/rotation-overdue.ts";
import { releaseBootstrap } from "../enrollment/manage-policy.ts";
import { quarantineBootstrap } from "../enrollment/policy.ts";
import { revokeCertificate } from "../revocation/revoke-certificate.ts";
import { decommissionDevice } from "./decommission-device.ts";
import { exportDevicesCsv } from "./export-devices.ts";
import { effectiveQuery } from "./fleet-filter.ts";
import { fleetStats } from "./fleet-stats.ts";
import { type FleetRow, listDevices } from "./list-devices.ts";
import { seedDevices } from "./seed-devices.ts";
import { sweepFleetState } from "./sweep-fleet-state.ts";

vi.mock("server-only", () => ({}));

// its own database on PostgreSQL too: the sweep takes a database-wide lock (other files' Device writers would make
// it busy) and moves the fleet clock every process shares
const db = testDb({ own: true });
const system = { type: "system", id: "test" } as const;
const N = 300;
const DAY = 86_400_000;
let customerId = "";
let uid = "";
const now = new Date();

const q = (over: Record<string, string>): FleetQuery => fleetQuerySchema.parse({ size: "40", ...over });

const ids = (rows: FleetRow[]) => rows.map((r) => r.deviceId).sort();

/** Every page of a query, following nextCursor. */
async function walk(over: Record<string, string>, at = now, scope = { customerId }): Promise<FleetRow[]> {
  const rows: FleetRow[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await listDevices(q(cursor ? { ...over, cursor } : over), scope, at);
    rows.push(...page.rows);
    if (!page.nextCursor) return rows;
    cursor = page.nextCursor;
  }
  throw new Error("too many pages");
}

type Truth = {
  id: string;
  deviceId: string;
  status: string;
  lastRotatedAt: Date;
  serial: string | null;
  notAfter: Date | null;
  revokedAt: Date | null;
  /** enrolled with a bootstrapping certificate that is quarantined and not revoked */
  quarantined: boolean;
};

/**
 * Ground truth from the certificates, not from the denormalized or stored columns: each device's newest Client
 * TLS certificate, and the quarantine of the bootstrapping certificate that enrolled it.
 */
async function truth(of = customerId): Promise<Truth[]> {
  return db.$queryRaw<Truth[]>`SELECT d.id::text, d."deviceId", d.status::text, d."lastRotatedAt", c.serial, c."notAfter",
      c."revokedAt", coalesce(b."quarantinedAt" IS NOT NULL AND b."revokedAt" IS NULL, false) AS quarantined
    FROM "Device" d LEFT JOIN LATERAL (SELECT serial, "notAfter", "revokedAt" FROM "Certificate" x
      WHERE x."deviceRef" = d.id AND x.kind = 'CLIENT_TLS' ORDER BY x."createdAt" DESC LIMIT 1) c ON true
      LEFT JOIN "Certificate" b ON b.id = d."enrolledById"
    WHERE d."customerId" = ${of}::uuid`;
}

// The classes as the spec words them, at a moment `at` (precedence: revoked, quarantined, expired/active).
const revoked = (t: Truth) => t.status === "DECOMMISSIONED" || !!t.revokedAt;
const quarantined = (t: Truth) => !revoked(t) && t.quarantined;
const live = (t: Truth) => !revoked(t) && !t.quarantined && !!t.notAfter;
const active = (t: Truth, at = now) => live(t) && t.notAfter! > at;
const expired = (t: Truth, at = now) => live(t) && t.notAfter! <= at;
const overdue = (t: Truth, at = now) => t.status === "ACTIVE" && t.lastRotatedAt.getTime() < at.getTime() - 30 * DAY;
const expiringWithin = (days: number) => (t: Truth) =>
  t.status === "ACTIVE" && !t.revokedAt && !!t.notAfter && t.notAfter > now && t.notAfter.getTime() <= now.getTime() + days * DAY;

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
  await sweepFleetState(); // what the scheduler does; the tests below also run with the clock elsewhere
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

  it("enrolls one device in a hundred with a factory bootstrapping certificate it quarantines", async () => {
    const t = await truth();
    expect(t.filter((x) => x.quarantined).map((x) => x.deviceId)).toEqual(["dev-0000100", "dev-0000200", "dev-0000300"]);
    expect(await db.certificate.count({ where: { customerId, kind: "BOOTSTRAP", quarantinedAt: { not: null } } })).toBe(1);
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
  // rare: a few devices of the seeded 300 at most, none in some seeds
  const cases: { name: string; params: Record<string, string>; match: (t: Truth) => boolean; rare?: true }[] = [
    { name: "all", params: {}, match: () => true },
    { name: "active", params: { status: "active" }, match: (t) => active(t) },
    { name: "revoked", params: { status: "revoked" }, match: revoked },
    { name: "expired", params: { status: "expired" }, match: (t) => expired(t) },
    { name: "quarantined", params: { status: "quarantined" }, match: quarantined },
    { name: "overdue", params: { overdue: "1" }, match: (t) => overdue(t) },
    { name: "active and overdue", params: { status: "active", overdue: "1" }, match: (t) => active(t) && overdue(t) },
    { name: "revoked and overdue", params: { status: "revoked", overdue: "1" }, match: (t) => revoked(t) && overdue(t), rare: true },
    { name: "expiring within 30 days", params: { expiring: "30" }, match: expiringWithin(30), rare: true },
    { name: "expiring within 90 days", params: { expiring: "90" }, match: expiringWithin(90) },
    {
      name: "expiring within 90 days, overdue",
      params: { expiring: "90", overdue: "1" },
      match: (t) => expiringWithin(90)(t) && overdue(t),
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
        if (!c.rare) expect(expected.length).toBeGreaterThan(0);
        const rows = await walk({ ...c.params, sort, dir });
        const ids = rows.map((r) => r.id);
        expect(new Set(ids).size).toBe(ids.length); // no overlap
        expect([...ids].sort()).toEqual(expected.map((t) => t.id).sort()); // no gap, nothing extra
        // "expiring within N days" lists by expiry whatever the URL's sort
        const eff = effectiveQuery(q({ ...c.params, sort, dir }));
        expect(eff.sort === "expiry" || !c.params.expiring).toBe(true);
        const key = (r: FleetRow) => (eff.sort === "enrolled" ? r.enrolledAt : eff.sort === "rotation" ? r.lastRotatedAt : r.notAfter);
        for (let i = 1; i < rows.length; i++) {
          const [a, b] = [key(rows[i - 1]), key(rows[i])];
          // nulls (no certificate) sort last ascending and first descending, as the index orders them
          if (a === null || b === null) expect(eff.dir === "asc" ? a !== null || b === null : a === null || b !== null).toBe(true);
          else expect(eff.dir === "asc" ? a <= b : a >= b).toBe(true);
        }
        // each row's own status and overdue flag are the spec's
        const byId = new Map(expected.map((t) => [t.id, t]));
        for (const r of rows) {
          const t = byId.get(r.id)!;
          const status = revoked(t) ? "revoked" : t.quarantined ? "quarantined" : !t.notAfter ? "none" : active(t) ? "active" : "expired";
          expect([r.deviceId, r.status, r.rotationOverdue]).toEqual([t.deviceId, status, overdue(t)]);
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
    const t = await truth();
    for (const [params, match] of [
      [{ status: "revoked" }, revoked],
      [{ status: "quarantined" }, quarantined],
      [{ expiring: "90" }, expiringWithin(90)],
    ] as const) {
      const text = await new Response(exportDevicesCsv(q(params), { customerId })).text();
      const lines = text.trim().split("\n");
      expect(lines[0]).toMatch(/^device_id,customer,status,/);
      expect(
        lines
          .slice(1)
          .map((l) => l.split(",")[0])
          .sort(),
      ).toEqual(
        t
          .filter(match)
          .map((x) => x.deviceId)
          .sort(),
      );
    }
    const quarantinedCsv = await new Response(exportDevicesCsv(q({ status: "quarantined" }), { customerId })).text();
    expect(
      quarantinedCsv
        .trim()
        .split("\n")
        .slice(1)
        .every((l) => l.split(",")[2] === "quarantined"),
    ).toBe(true);
  });

  it("a bad expiring value is no filter; a number of days is any whole number up to ten years", () => {
    expect(q({ expiring: "abc" }).expiring).toBeUndefined();
    expect(q({ expiring: "0" }).expiring).toBeUndefined();
    expect(q({ expiring: "3651" }).expiring).toBeUndefined();
    expect(q({ expiring: "14" }).expiring).toBe(14);
    expect(q({ status: "quarantined" }).status).toBe("quarantined");
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

describe("the classes as time passes", () => {
  const HOUR = 3_600_000;

  it("30 days is fleet_overdue()'s 30 days", async () => {
    const t = new Date("2030-01-31T12:00:00.000Z");
    const at = (ms: number) => new Date(t.getTime() - ROTATION_OVERDUE_DAYS * DAY + ms).toISOString();
    const [r] = await db.$queryRaw<{ before: boolean; edge: boolean }[]>`SELECT
      fleet_overdue('ACTIVE', ${at(-1)}::timestamp, ${t.toISOString()}::timestamp) AS before,
      fleet_overdue('ACTIVE', ${at(0)}::timestamp, ${t.toISOString()}::timestamp) AS edge`;
    expect(r).toEqual({ before: true, edge: false });
  });

  it("fleet_state() is inlined by the planner, not called per row, and keeps its precedence", async () => {
    const plan = await db.$queryRaw<{ "QUERY PLAN": string }[]>`EXPLAIN VERBOSE SELECT
      fleet_state(d.status, d."currentRevokedAt", d.quarantined, d."currentNotAfter", now()::timestamp) FROM "Device" d`;
    const text = plan.map((r) => r["QUERY PLAN"]).join("\n");
    expect(text).toContain("CASE WHEN");
    expect(text).not.toContain("fleet_state(");
    const t = "2030-01-31 12:00:00";
    const [r] = await db.$queryRaw<Record<string, string>[]>`SELECT
      fleet_state('DECOMMISSIONED', NULL, true, NULL, ${t}::timestamp)::text AS decommissioned,
      fleet_state('ACTIVE', ${t}::timestamp, true, NULL, ${t}::timestamp)::text AS revoked,
      fleet_state('ACTIVE', NULL, true, NULL, ${t}::timestamp)::text AS quarantined,
      fleet_state('ACTIVE', NULL, false, NULL, ${t}::timestamp)::text AS none,
      fleet_state('ACTIVE', NULL, false, ${t}::timestamp, ${t}::timestamp)::text AS expired,
      fleet_state('ACTIVE', NULL, false, ${t}::timestamp + interval '1 ms', ${t}::timestamp)::text AS active`;
    expect(r).toEqual({
      decommissioned: "REVOKED",
      revoked: "REVOKED",
      quarantined: "QUARANTINED",
      none: "NONE",
      expired: "EXPIRED",
      active: "ACTIVE",
    });
  });

  it("an expiry and a rotation deadline passing change every answer at once, before and after the sweep, forwards and back", async () => {
    const c = await createCustomer({ name: unique("Clock").replace(/-/g, " "), adminEmail: `${unique()}@fleet.test` }, system);
    const scope = { customerId: c.customer.id };
    const t0 = new Date();
    const t1 = new Date(t0.getTime() + 2 * HOUR);
    const device = (deviceId: string, notAfterIn: number, rotatedAgo: number) =>
      db.device.create({
        data: {
          customerId: scope.customerId,
          deviceId,
          currentSerial: unique("serial").replace(/[^0-9a-z]/g, ""),
          currentNotAfter: new Date(t0.getTime() + notAfterIn),
          lastRotatedAt: new Date(t0.getTime() - rotatedAgo),
          uid: c.user.uid,
        },
        select: { id: true },
      });
    // "soon" expires in an hour; "due" reaches its 30-day rotation deadline in an hour; "fresh" does neither
    const soon = await device("soon", HOUR, 364 * DAY);
    const due = await device("due", 300 * DAY, 30 * DAY - HOUR);
    await device("fresh", 360 * DAY, 5 * DAY);
    const stored = async (id: string) => db.device.findUniqueOrThrow({ where: { id }, select: { fleetState: true, fleetOverdue: true } });
    const notYet = async (at: Date) => {
      expect(ids(await walk({ status: "active" }, at, scope))).toEqual(["due", "fresh", "soon"]);
      expect(ids(await walk({ status: "expired" }, at, scope))).toEqual([]);
      expect(ids(await walk({ overdue: "1" }, at, scope))).toEqual(["soon"]);
      expect(ids(await walk({ status: "active", overdue: "1", sort: "rotation" }, at, scope))).toEqual(["soon"]);
    };
    const passed = async (at: Date) => {
      expect(ids(await walk({ status: "active" }, at, scope))).toEqual(["due", "fresh"]);
      expect(ids(await walk({ status: "expired", sort: "expiry" }, at, scope))).toEqual(["soon"]);
      expect(ids(await walk({ overdue: "1" }, at, scope))).toEqual(["due", "soon"]);
      expect(ids(await walk({ status: "active", overdue: "1", sort: "rotation" }, at, scope))).toEqual(["due"]);
      const page = await listDevices(q({ status: "expired" }), scope, at);
      expect([page.total, page.totalExact, page.rows[0].status, page.rows[0].rotationOverdue]).toEqual([1, true, "expired", true]);
      expect((await fleetStats(scope.customerId, at)).overdue).toEqual({ total: 2, totalExact: true });
    };

    const { generation: before } = await sweepFleetState(t0);
    await notYet(t0);
    // two hours later, nobody has swept: the stored classes are old, the answers are not
    await passed(t1);
    expect(await stored(soon.id)).toEqual({ fleetState: "ACTIVE", fleetOverdue: true });
    expect(await stored(due.id)).toEqual({ fleetState: "ACTIVE", fleetOverdue: false });
    // the sweep re-classifies the two, and answers stay the same; asked about the past, the answers are the past's
    const swept = await sweepFleetState(t1);
    expect(swept.reclassified).toBeGreaterThanOrEqual(2);
    // two hours of clock move in 15-minute steps, each its own short transaction (Device writes wait for one step)
    expect(swept.generation - before).toBeGreaterThanOrEqual(8);
    expect(await stored(soon.id)).toEqual({ fleetState: "EXPIRED", fleetOverdue: true });
    expect(await stored(due.id)).toEqual({ fleetState: "ACTIVE", fleetOverdue: true });
    await passed(t1);
    await notYet(t0);
    // a write after the sweep is classified for the clock it reads: "soon" rotates and is active again
    await db.device.update({
      where: { id: soon.id },
      data: { currentNotAfter: new Date(t1.getTime() + 365 * DAY), lastRotatedAt: t1 },
    });
    expect(await stored(soon.id)).toEqual({ fleetState: "ACTIVE", fleetOverdue: false });
    expect(ids(await walk({ status: "active" }, t1, scope))).toEqual(["due", "fresh", "soon"]);
    // every device of the database is stored with its class at the clock
    const [{ wrong }] = await db.$queryRaw<{ wrong: number }[]>`SELECT count(*)::int AS wrong FROM "Device" d, "FleetClock" k
      WHERE d."fleetState" <> fleet_state(d.status, d."currentRevokedAt", d.quarantined, d."currentNotAfter", k."sweptAt")
         OR d."fleetOverdue" <> fleet_overdue(d.status, d."lastRotatedAt", k."sweptAt")`;
    expect(wrong).toBe(0);
    await sweepFleetState(); // back to the database's now, for the other tests
  });
});

describe("the sweep next to device writes", () => {
  // PostgreSQL only: the embedded database has one connection, so a write and a sweep cannot overlap there
  it.skipIf(dbLabel() === "pglite")("gives up within its lock timeout while a device write is open, instead of holding it up", async () => {
    let wrote!: () => void;
    let finish!: () => void;
    const written = new Promise<void>((r) => (wrote = r));
    const held = new Promise<void>((r) => (finish = r));
    const writer = db.$transaction(
      async (tx) => {
        await tx.$executeRaw`UPDATE "Device" SET "deviceId" = "deviceId" WHERE false`; // any Device write statement
        wrote();
        await held;
      },
      { timeout: 30_000 },
    );
    await written;
    const t0 = performance.now();
    await expect(sweepFleetState()).rejects.toMatchObject({ code: "fleet_sweep_busy" });
    expect(performance.now() - t0).toBeLessThan(1000);
    finish();
    await writer;
    expect((await sweepFleetState()).generation).toBeGreaterThan(0);
  });
});

describe("quarantine", () => {
  it("devices enrolled with a bootstrapping certificate are quarantined with it and released with it; its revocation ends it", async () => {
    const c = await createCustomer({ name: unique("Quarantine").replace(/-/g, " "), adminEmail: `${unique()}@fleet.test` }, system);
    const [cid, cuid] = [c.customer.id, c.user.uid];
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const boot = await issueAndStore({
      profile: "bootstrap",
      csr: createCsr({ key: privateKey }),
      customerId: cid,
      uid: cuid,
      actor: system,
    });
    const enroll = (deviceId: string, enrolledById?: string) =>
      issueAndStore({
        profile: "client-tls",
        csr: deviceCsr(deviceId),
        customerId: cid,
        uid: cuid,
        deviceId,
        actor: system,
        ...(enrolledById ? { enrolledById } : {}),
      });
    await enroll("q-cam-1", boot.id);
    await enroll("q-cam-2");
    const at = new Date();
    const statuses = async () => Object.fromEntries((await walk({}, at, { customerId: cid })).map((r) => [r.deviceId, r.status]));
    expect(await statuses()).toEqual({ "q-cam-1": "active", "q-cam-2": "active" });

    await quarantineBootstrap(boot.id, "enrollment_budget_exceeded", system);
    expect(await statuses()).toEqual({ "q-cam-1": "quarantined", "q-cam-2": "active" });
    expect(ids(await walk({ status: "quarantined" }, at, { customerId: cid }))).toEqual(["q-cam-1"]);
    expect(ids(await walk({ status: "active" }, at, { customerId: cid }))).toEqual(["q-cam-2"]);
    // a device written with that certificate while it is quarantined is quarantined from the start
    await enroll("q-cam-3", boot.id);
    expect((await statuses())["q-cam-3"]).toBe("quarantined");

    await releaseBootstrap(cid, boot.serialHex, system);
    expect(await statuses()).toEqual({ "q-cam-1": "active", "q-cam-2": "active", "q-cam-3": "active" });
    await quarantineBootstrap(boot.id, "enrollment_budget_exceeded", system);
    expect(ids(await walk({ status: "quarantined" }, at, { customerId: cid }))).toEqual(["q-cam-1", "q-cam-3"]);
    await revokeCertificate({ serial: boot.serialHex, reason: "keyCompromise", actor: system });
    expect(await statuses()).toEqual({ "q-cam-1": "active", "q-cam-2": "active", "q-cam-3": "active" });
    expect((await fleetStats(cid, at)).active).toEqual({ total: 3, totalExact: true });
  });

  it("another customer's scope sees none of them", async () => {
    expect(await walk({ status: "quarantined" }, now, { customerId: "00000000-0000-4000-8000-000000000000" })).toEqual([]);
  });
});

describe("overview", () => {
  it("counts, rotation compliance, upcoming expiries by week and issuances per day agree with the data", async () => {
    const s = await fleetStats(customerId, now);
    const t = await truth();
    const exact = (total: number) => ({ total, totalExact: true });
    expect(s.devices).toEqual(exact(t.length));
    expect(s.active).toEqual(exact(t.filter((x) => active(x)).length));
    expect(s.overdue).toEqual(exact(t.filter((x) => overdue(x)).length));
    expect(s.expired).toEqual(exact(t.filter((x) => expired(x)).length));
    expect(s.quarantined).toEqual(exact(t.filter(quarantined).length));
    expect(s.expiring).toEqual(exact(t.filter(expiringWithin(30)).length));
    expect(s.compliance).toEqual({
      compliant: t.filter((x) => active(x) && !overdue(x)).length,
      overdue: t.filter((x) => active(x) && overdue(x)).length,
      exact: true,
    });

    const WEEK = 7 * DAY;
    expect(s.expiries.weeks.map((w) => w.week)).toEqual(
      Array.from({ length: 12 }, (_, i) => new Date(now.getTime() + i * WEEK).toISOString().slice(0, 10)),
    );
    // week i: expiring after now + i weeks, up to now + i + 1 weeks
    const liveIn = (i: number) =>
      t.filter(
        (x) =>
          x.status === "ACTIVE" &&
          !x.revokedAt &&
          !!x.notAfter &&
          x.notAfter.getTime() > now.getTime() + i * WEEK &&
          x.notAfter.getTime() <= now.getTime() + (i + 1) * WEEK,
      ).length;
    expect(s.expiries.weeks.map((w) => w.n)).toEqual(Array.from({ length: 12 }, (_, i) => liveIn(i)));
    expect(s.expiries.weeks.reduce((sum, w) => sum + w.n, 0)).toBeGreaterThan(0);
    expect(s.expiries.exact).toBe(true);

    const perDay = new Map(
      (
        await db.$queryRaw<{ day: string; n: number }[]>`SELECT to_char(date_trunc('day', "createdAt"), 'YYYY-MM-DD') AS day,
          count(*)::int AS n FROM "Certificate" WHERE "customerId" = ${customerId}::uuid GROUP BY 1`
      ).map((r) => [r.day, r.n]),
    );
    expect(s.issuances).toHaveLength(30);
    expect(s.issuances.at(-1)?.day).toBe(now.toISOString().slice(0, 10));
    expect(s.issuances.map((p) => p.n)).toEqual(s.issuances.map((p) => perDay.get(p.day) ?? 0));
    expect(s.issuances.reduce((sum, p) => sum + p.n, 0)).toBeGreaterThan(N / 2);
    // the days that are over were counted once and kept; the next overview reads them back
    expect(await db.issuanceDay.count({ where: { scope: customerId } })).toBeGreaterThanOrEqual(28);
    expect(await fleetStats(customerId, now)).toEqual(s);
  });

  it("staff see every customer's devices and issuances", async () => {
    const [mine, all] = await Promise.all([fleetStats(customerId, now), fleetStats(null, now)]);
    expect(all.devices.total).toBeGreaterThanOrEqual(mine.devices.total);
    for (let i = 0; i < 30; i++) expect(all.issuances[i].n).toBeGreaterThanOrEqual(mine.issuances[i].n);
    expect(await db.issuanceDay.count({ where: { scope: "all" } })).toBeGreaterThanOrEqual(28);
  });
});
