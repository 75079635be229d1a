// Group commit for issuance writes. Signing is CPU work that needs no lock; the database write is a
// transaction whose commit dominates (a flush per commit). Under load, issuances that arrive while a
// commit is in flight are stored together in the next transaction — one multi-row insert per table —
// so the write cost per certificate falls as load rises, with no added latency when idle.
// Every issuance keeps its own outcome: a device-id conflict refuses that one only.
import { randomUUID } from "node:crypto";
import type { Prisma } from "../../../generated/prisma/client.ts";
import { db, type Tx } from "../../db/client.ts";
import {
  type CurrentCertFields,
  currentCertFields,
  deviceExists,
  type IssuedRecord,
  type IssueRequest,
  issuanceRows,
  issuerChanged,
  keyCertified,
  lockActiveIssuers,
  lockCertifiedKeys,
  type Prepared,
  store,
} from "./issue-certificate.ts";

type Pending = { req: IssueRequest; prepared: Prepared; resolve(r: IssuedRecord): void; reject(e: unknown): void };

const MAX_BATCH = 500;
// Two writers: while one batch commits (a round trip and a flush on the server), the next is already
// being written, so the signing loop never waits on a single commit.
const WRITERS = 2;
let queue: Pending[] = [];
let writers = 0;

/** Store one prepared issuance, batched with whatever else is waiting. */
export function writeIssuance(req: IssueRequest, prepared: Prepared): Promise<IssuedRecord> {
  return new Promise((resolve, reject) => {
    queue.push({ req, prepared, resolve, reject });
    if (writers < WRITERS) void flush();
  });
}

async function flush() {
  writers++;
  try {
    while (queue.length) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(batch.length);
      await writeBatch(batch);
    }
  } finally {
    writers--;
  }
}

async function writeBatch(batch: Pending[]) {
  let outcomes: (IssuedRecord | Error)[];
  try {
    outcomes = await db().$transaction((tx) => insertBatch(tx, batch), { timeout: 60_000 });
  } catch {
    // One bad row (a race on a device id with another process, say) must not fail its neighbours:
    // store each on its own, each with its own answer.
    outcomes = [];
    for (const p of batch) {
      try {
        outcomes.push(await db().$transaction((tx) => store(tx, p.req, p.prepared)));
      } catch (e) {
        outcomes.push(e as Error);
      }
    }
  }
  batch.forEach((p, i) => {
    const o = outcomes[i];
    if (o instanceof Error) p.reject(o);
    else p.resolve(o);
  });
}

async function insertBatch(tx: Tx, batch: Pending[]): Promise<(IssuedRecord | Error)[]> {
  const key = (customerId: string, deviceId: string) => `${customerId}\u0000${deviceId}`;
  const wanted = batch.filter((p) => p.prepared.cert.deviceId && p.req.customerId);
  const existing = new Map<string, { id: string; isNew: boolean }>();
  if (wanted.length) {
    const found = await tx.$queryRaw<{ id: string; customerId: string; deviceId: string }[]>`
      SELECT d.id::text AS id, d."customerId"::text AS "customerId", d."deviceId" FROM "Device" d
      JOIN unnest(${wanted.map((p) => p.req.customerId!)}::uuid[], ${wanted.map((p) => p.prepared.cert.deviceId!)}::text[]) AS w(customer, device)
        ON d."customerId" = w.customer AND d."deviceId" = w.device`;
    for (const d of found) existing.set(key(d.customerId, d.deviceId), { id: d.id, isNew: false });
  }
  const active = await lockActiveIssuers(tx, [...new Set(batch.map((p) => p.prepared.issuer.ca.id))]);
  const certified = await lockCertifiedKeys(
    tx,
    batch.filter((p) => p.req.requireNewKey).map((p) => p.prepared.cert.spkiSha256),
  );
  const devices: Prisma.DeviceCreateManyInput[] = [];
  const rotated: string[] = [];
  // fleet denormalization: each device's newest Client TLS certificate in this batch becomes its current one
  const current = new Map<string, CurrentCertFields>();
  const certificates: (Prisma.CertificateCreateManyInput & { id: string })[] = [];
  const audits: Prisma.AuditEventCreateManyInput[] = [];
  const outcomes: (IssuedRecord | Error)[] = [];
  for (const p of batch) {
    const { cert, issuer, chainPem } = p.prepared;
    if (!active.has(issuer.ca.id)) {
      outcomes.push(issuerChanged());
      continue;
    }
    // a key certified before, or earlier in this batch
    if (p.req.requireNewKey && certified.has(cert.spkiSha256)) {
      outcomes.push(keyCertified());
      continue;
    }
    let deviceRef: string | null = null;
    if (cert.deviceId && p.req.customerId) {
      const k = key(p.req.customerId, cert.deviceId);
      const device = existing.get(k);
      if (device && p.req.device === "create") {
        outcomes.push(deviceExists(cert.deviceId));
        continue;
      }
      if (device) {
        deviceRef = device.id;
        if (p.req.profile === "client-tls" && !device.isNew) rotated.push(device.id);
      } else {
        deviceRef = randomUUID();
        existing.set(k, { id: deviceRef, isNew: true });
        devices.push({ id: deviceRef, customerId: p.req.customerId, deviceId: cert.deviceId, enrolledById: p.req.enrolledById ?? null });
      }
    }
    const rows = issuanceRows(p.req, p.prepared, deviceRef);
    if (deviceRef && p.req.profile === "client-tls") {
      current.set(deviceRef, currentCertFields(p.req, cert, rows.certificate.id) as CurrentCertFields);
    }
    certified.add(cert.spkiSha256);
    certificates.push(rows.certificate);
    audits.push(rows.auditEvent);
    outcomes.push({ ...cert, id: rows.certificate.id, issuerId: issuer.ca.id, chainPem });
  }
  for (const d of devices) Object.assign(d, current.get(d.id as string));
  // timestamps from here, not the database's now(): columns are UTC without a zone, whatever the server's zone
  const now = new Date().toISOString();
  if (devices.length) await insertDevices(tx, devices, now);
  if (rotated.length) await tx.device.updateMany({ where: { id: { in: rotated } }, data: { lastRotatedAt: new Date() } });
  // fleet denormalization: existing devices get their new current certificate, one statement for the batch
  const created = new Set(devices.map((d) => d.id));
  const moved = [...current].filter(([id]) => !created.has(id));
  if (moved.length) await setCurrentCertificates(tx, moved);
  if (certificates.length) await insertCertificates(tx, certificates, now);
  if (audits.length) await insertAudits(tx, audits, now);
  return outcomes;
}

/** Device.current* ← the given certificate fields, for many devices in one UPDATE … FROM unnest(…). */
async function setCurrentCertificates(tx: Tx, rows: [string, CurrentCertFields][]) {
  const col = <K extends keyof CurrentCertFields>(k: K) => rows.map(([, f]) => f[k]);
  const ids = rows.map(([id]) => id);
  const notAfter = col("currentNotAfter").map((d) => d.toISOString());
  await tx.$executeRaw`UPDATE "Device" d SET "currentCertId" = v.cert, "currentSerial" = v.serial, "currentNotAfter" = v.not_after,
      "currentRevokedAt" = NULL, "uid" = v.uid
    FROM unnest(${ids}::uuid[], ${col("currentCertId")}::uuid[], ${col("currentSerial")}::text[], ${notAfter}::timestamp[], ${col("uid")}::text[])
      AS v(id, cert, serial, not_after, uid)
    -- two batches in flight may both rotate one device: the later certificate stays current whichever commits last
    WHERE d.id = v.id AND (d."currentNotAfter" IS NULL OR d."currentNotAfter" <= v.not_after)`;
}

// The batch's rows go in as one INSERT … SELECT FROM unnest(column arrays) per table: a handful of array
// parameters instead of Prisma's createMany, whose per-row, per-field processing cost more CPU than signing.
const iso = (d: unknown) => (d instanceof Date || typeof d === "string" ? new Date(d).toISOString() : null);

async function insertDevices(tx: Tx, rows: Prisma.DeviceCreateManyInput[], now: string) {
  const col = <K extends keyof Prisma.DeviceCreateManyInput>(k: K) => rows.map((r) => r[k] ?? null);
  await tx.$executeRaw`INSERT INTO "Device" (id, "customerId", "deviceId", "enrolledById", "currentCertId", "currentSerial",
      "currentNotAfter", uid, "enrolledAt", "lastRotatedAt")
    SELECT *, ${now}::timestamp, ${now}::timestamp FROM unnest(${col("id")}::uuid[], ${col("customerId")}::uuid[], ${col("deviceId")}::text[], ${col("enrolledById")}::uuid[],
      ${col("currentCertId")}::uuid[], ${col("currentSerial")}::text[], ${rows.map((r) => iso(r.currentNotAfter))}::timestamp[],
      ${col("uid")}::text[])`;
}

async function insertCertificates(tx: Tx, rows: (Prisma.CertificateCreateManyInput & { id: string })[], now: string) {
  const col = <K extends keyof Prisma.CertificateCreateManyInput>(k: K) => rows.map((r) => r[k] ?? null);
  await tx.$executeRaw`INSERT INTO "Certificate" (id, serial, kind, profile, "issuerId", "customerId", "deviceRef", uid, subject,
      "spkiSha256", der, "notBefore", "notAfter", "authorizedBy", "createdAt")
    SELECT id, serial, kind::"CertKind", profile, issuer, customer, device, uid, subject, spki, decode(der, 'hex'), nb, na, auth,
      ${now}::timestamp
    FROM unnest(${col("id")}::uuid[], ${col("serial")}::text[], ${col("kind")}::text[], ${col("profile")}::text[],
      ${col("issuerId")}::uuid[], ${col("customerId")}::uuid[], ${col("deviceRef")}::uuid[], ${col("uid")}::text[],
      ${col("subject")}::text[], ${col("spkiSha256")}::text[], ${rows.map((r) => Buffer.from(r.der as Uint8Array).toString("hex"))}::text[],
      ${rows.map((r) => iso(r.notBefore))}::timestamp[], ${rows.map((r) => iso(r.notAfter))}::timestamp[], ${col("authorizedBy")}::text[])
      AS v(id, serial, kind, profile, issuer, customer, device, uid, subject, spki, der, nb, na, auth)`;
}

async function insertAudits(tx: Tx, rows: Prisma.AuditEventCreateManyInput[], now: string) {
  const col = <K extends keyof Prisma.AuditEventCreateManyInput>(k: K) => rows.map((r) => r[k] ?? null);
  await tx.$executeRaw`INSERT INTO "AuditEvent" (action, outcome, "actorType", "actorId", "customerId", target, details, ip, at)
    SELECT action, outcome, actor_type, actor_id, customer, target, details::jsonb, ip, ${now}::timestamp
    FROM unnest(${col("action")}::text[], ${col("outcome")}::text[], ${col("actorType")}::text[], ${col("actorId")}::text[],
      ${col("customerId")}::uuid[], ${col("target")}::text[],
      ${rows.map((r) => (r.details === undefined || r.details === null ? null : JSON.stringify(r.details)))}::text[], ${col("ip")}::text[])
      AS v(action, outcome, actor_type, actor_id, customer, target, details, ip)`;
}
