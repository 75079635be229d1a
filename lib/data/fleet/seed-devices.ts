// `pss seed --devices N`: a large, realistic fleet for measuring the fleet query (SPEC §8, issue 6 item 3).
// Rows are generated inside the database (INSERT … SELECT generate_series), a chunk per statement. One real
// Client TLS certificate is issued and stored first; its DER is the template every seeded certificate row
// reuses — the point is query performance, not a million signatures. Serials, dates, statuses and the
// denormalized Device.current* columns are per row and consistent with what issuance would have written.
import { randomBytes } from "node:crypto";
import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { createCsr } from "../../pki/csr.ts";
import { newPrivateKey } from "../../pki/keygen.ts";
import { OID_CN, OID_SERIAL_NUMBER } from "../../pki/names.ts";
import { type Actor, audit } from "../audit/record.ts";
import { ensureHierarchy } from "../ca/hierarchy.ts";
import { issueAndStore } from "../certificates/issue-certificate.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { quarantineBootstrap } from "../enrollment/policy.ts";

export const SEED_CUSTOMER = "Fleet Seed";
const CHUNK = 50_000;
/** how many customer users' UIDs the seeded certificates carry (a UID is a customer user's, SPEC §3) */
const UIDS = 50;

export type SeedInput = {
  devices: number;
  /** an existing customer; default: the "Fleet Seed" customer, created on first use */
  customerId?: string;
  /** device ids are `${prefix}${n}` with n zero-padded to 7 digits, continuing after earlier seeds */
  prefix?: string;
  now?: Date;
  actor?: Actor;
  onProgress?: (done: number) => void;
};

export type SeedResult = {
  customerId: string;
  devices: number;
  certificates: number;
  firstDeviceId: string | null;
  lastDeviceId: string | null;
  uids: string[];
  templateSerial: string;
  note: string;
  seconds: number;
};

async function seedCustomer(customerId: string | undefined, actor: Actor): Promise<string> {
  if (customerId) {
    const c = await db().customer.findUnique({ where: { id: customerId }, select: { id: true } });
    if (!c) throw new AppError("customer_not_found", "No such customer.", 404);
    return c.id;
  }
  const existing = await db().customer.findUnique({ where: { name: SEED_CUSTOMER }, select: { id: true } });
  if (existing) return existing.id;
  const created = await createCustomer({ name: SEED_CUSTOMER, adminEmail: "fleet-seed@example.invalid" }, actor);
  return created.customer.id;
}

/** One real, signed Client TLS certificate of the customer: the DER template of the seeded rows. */
async function template(customerId: string, uid: string, actor: Actor) {
  const deviceId = `seed-template-${randomBytes(4).toString("hex")}`;
  const privateKey = newPrivateKey();
  const csr = createCsr({
    key: privateKey,
    subject: [
      { oid: OID_CN, value: deviceId, encoding: "utf8" },
      { oid: OID_SERIAL_NUMBER, value: deviceId, encoding: "printable" },
    ],
  });
  const rec = await issueAndStore({ profile: "client-tls", csr, customerId, uid, deviceId, authorizedBy: "seed", actor });
  return { der: Buffer.from(rec.der), issuerId: rec.issuerId, serial: rec.serialHex };
}

/** A real bootstrapping certificate of the customer: one factory line's, whose key leaked (quarantined below). */
async function factoryBootstrap(customerId: string, uid: string, actor: Actor): Promise<string> {
  const privateKey = newPrivateKey();
  const rec = await issueAndStore({
    profile: "bootstrap",
    csr: createCsr({ key: privateKey }),
    customerId,
    uid,
    authorizedBy: "seed",
    actor,
  });
  return rec.id;
}

export async function seedDevices(input: SeedInput): Promise<SeedResult> {
  const started = performance.now();
  const actor = input.actor ?? { type: "system", id: "seed" };
  if (!Number.isInteger(input.devices) || input.devices < 1 || input.devices > 10_000_000)
    throw new AppError("usage", "--devices must be an integer from 1 to 10000000", 2);
  const prefix = input.prefix ?? "dev-";
  if (!/^[A-Za-z0-9._-]{1,40}$/.test(prefix)) throw new AppError("usage", "--prefix: letters, digits, . _ - only", 2);
  await ensureHierarchy(actor);
  const customerId = await seedCustomer(input.customerId, actor);
  const users = await db().user.findMany({ where: { customerId }, select: { uid: true }, orderBy: { createdAt: "asc" }, take: UIDS });
  // the customer's real users first, then stand-ins so certificates spread over UIDS users
  const uids = [
    ...users.map((u) => u.uid),
    ...Array.from({ length: UIDS - users.length }, (_, i) => `seed-user-${String(i).padStart(2, "0")}`),
  ];
  const tpl = await template(customerId, uids[0], actor);
  const leaked = await factoryBootstrap(customerId, uids[0], actor);
  const now = (input.now ?? new Date()).toISOString();
  const like = `${prefix.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
  const [{ n: already }] = await db().$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM "Device"
    WHERE "customerId" = ${customerId}::uuid AND "deviceId" LIKE ${like} AND "deviceId" NOT LIKE 'seed-template-%'`;
  const run = randomBytes(8).toString("hex");
  let certificates = 0;
  for (let start = already + 1; start <= already + input.devices; start += CHUNK) {
    const end = Math.min(start + CHUNK - 1, already + input.devices);
    // Shares: 70 % rotated within 30 days, 20 % overdue but valid, 10 % expired (not rotated for over a year);
    // 5 % never rotated; 3 % of certificates revoked, 1 % of devices decommissioned; one in seven devices also
    // keeps its previous certificate (revoked as superseded). Client TLS validity: 365 days (lib/pki/profiles.ts).
    // One device in a hundred enrolled over mTLS with the factory bootstrapping certificate that is quarantined
    // below; the others came from the manufacturing tool (no bootstrapping certificate).
    certificates += await db().$executeRaw`
      WITH src AS MATERIALIZED (
        SELECT i, gen_random_uuid() AS did, gen_random_uuid() AS cid, gen_random_uuid() AS pid,
          ${prefix} || lpad(i::text, 7, '0') AS device_id,
          (${uids}::text[])[1 + (i % ${uids.length})] AS uid,
          ltrim(md5(${run} || 'c' || i::text), '0') AS serial, ltrim(md5(${run} || 'p' || i::text), '0') AS prev_serial,
          random() AS r1, random() AS r2, random() AS r3, random() AS r4
        FROM generate_series(${start}::int, ${end}::int) AS i
      ), t AS MATERIALIZED (
        SELECT *, date_trunc('milliseconds', ${now}::timestamp - make_interval(secs => 86400 *
          CASE WHEN r1 < 0.70 THEN r2 * 30 WHEN r1 < 0.90 THEN 30 + r2 * 335 ELSE 366 + r2 * 534 END)) AS rotated
        FROM src
      ), u AS MATERIALIZED (
        SELECT *,
          CASE WHEN r3 < 0.05 THEN rotated ELSE date_trunc('milliseconds', rotated - make_interval(secs => 86400 * (30 + r3 * 700))) END AS enrolled,
          CASE WHEN r4 < 0.01 THEN 'DECOMMISSIONED' ELSE 'ACTIVE' END AS st,
          CASE WHEN r4 < 0.03 THEN date_trunc('milliseconds', rotated + (${now}::timestamp - rotated) * r2) END AS revoked,
          rotated + interval '365 days' AS not_after
        FROM t
      ), dev AS (
        INSERT INTO "Device" (id, "customerId", "deviceId", status, "enrolledAt", "lastRotatedAt", "decommissionedAt",
          "currentCertId", "currentSerial", "currentNotAfter", "currentRevokedAt", uid, "enrolledById")
        SELECT did, ${customerId}::uuid, device_id, st::"DeviceStatus", enrolled, rotated,
          CASE WHEN st = 'DECOMMISSIONED' THEN revoked END, cid, serial, not_after, revoked, uid,
          CASE WHEN i % 100 = 0 THEN ${leaked}::uuid END
        FROM u
      )
      INSERT INTO "Certificate" (id, serial, kind, profile, "issuerId", "customerId", "deviceRef", uid, subject, "spkiSha256", der,
        "notBefore", "notAfter", "createdAt", "authorizedBy", "firstUsedAt", "revokedAt", "revocationReason", "replacesId")
      SELECT cid, serial, 'CLIENT_TLS'::"CertKind", 'client-tls', ${tpl.issuerId}::uuid, ${customerId}::uuid, did, uid,
        'CN=' || device_id, md5(serial) || md5(device_id), ${tpl.der}::bytea, rotated, not_after, rotated, 'seed', rotated,
        revoked, CASE WHEN st = 'DECOMMISSIONED' THEN 'cessationOfOperation' WHEN revoked IS NOT NULL THEN 'keyCompromise' END,
        CASE WHEN r3 >= 0.05 AND i % 7 = 0 THEN pid END
      FROM u
      UNION ALL
      SELECT pid, prev_serial, 'CLIENT_TLS'::"CertKind", 'client-tls', ${tpl.issuerId}::uuid, ${customerId}::uuid, did, uid,
        'CN=' || device_id, md5(prev_serial) || md5(device_id), ${tpl.der}::bytea, rotated - interval '30 days',
        rotated + interval '335 days', rotated - interval '30 days', 'seed', rotated - interval '30 days',
        rotated + interval '1 minute', 'superseded', NULL
      FROM u WHERE r3 >= 0.05 AND i % 7 = 0`;
    input.onProgress?.(end - already);
  }
  // the enrollment budget of that factory line was exceeded: its devices show as quarantined in the fleet
  await quarantineBootstrap(leaked, "enrollment_budget_exceeded", actor);
  // back-dated certificates: the overview's per-day issuance counts of these days are no longer right
  await db().issuanceDay.deleteMany({ where: { scope: { in: [customerId, "all"] } } });
  // fresh statistics (or the planner guesses on a table that just grew by a million rows) and a fresh
  // visibility map (index-only scans)
  await db().$executeRawUnsafe(`VACUUM (ANALYZE) "Device"`);
  await db().$executeRawUnsafe(`VACUUM (ANALYZE) "Certificate"`);
  const note =
    "Seeded certificate rows reuse one real signed Client TLS certificate's DER (templateSerial) as their der; serials, dates and statuses are per row. For query performance only.";
  await audit(null, actor, {
    action: "fleet.seed",
    customerId,
    details: { devices: input.devices, certificates, templateSerial: tpl.serial },
  });
  return {
    customerId,
    devices: input.devices,
    certificates,
    firstDeviceId: `${prefix}${String(already + 1).padStart(7, "0")}`,
    lastDeviceId: `${prefix}${String(already + input.devices).padStart(7, "0")}`,
    uids,
    templateSerial: tpl.serial,
    note,
    seconds: Math.round((performance.now() - started) / 10) / 100,
  };
}
