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
  lockActiveIssuers,
  type Prepared,
  store,
} from "./issue-certificate.ts";

type Pending = { req: IssueRequest; prepared: Prepared; resolve(r: IssuedRecord): void; reject(e: unknown): void };

const MAX_BATCH = 500;
let queue: Pending[] = [];
let flushing = false;

/** Store one prepared issuance, batched with whatever else is waiting. */
export function writeIssuance(req: IssueRequest, prepared: Prepared): Promise<IssuedRecord> {
  return new Promise((resolve, reject) => {
    queue.push({ req, prepared, resolve, reject });
    if (!flushing) void flush();
  });
}

async function flush() {
  flushing = true;
  try {
    while (queue.length) {
      const batch = queue.slice(0, MAX_BATCH);
      queue = queue.slice(batch.length);
      await writeBatch(batch);
    }
  } finally {
    flushing = false;
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
    const found = await tx.device.findMany({
      where: { OR: wanted.map((p) => ({ customerId: p.req.customerId!, deviceId: p.prepared.cert.deviceId! })) },
      select: { id: true, customerId: true, deviceId: true },
    });
    for (const d of found) existing.set(key(d.customerId, d.deviceId), { id: d.id, isNew: false });
  }
  const active = await lockActiveIssuers(tx, [...new Set(batch.map((p) => p.prepared.issuer.ca.id))]);
  const devices: Prisma.DeviceCreateManyInput[] = [];
  const rotated: string[] = [];
  // fleet denormalization: each device's newest Client TLS certificate in this batch becomes its current one
  const current = new Map<string, CurrentCertFields>();
  const certificates: Prisma.CertificateCreateManyInput[] = [];
  const audits: Prisma.AuditEventCreateManyInput[] = [];
  const outcomes: (IssuedRecord | Error)[] = [];
  for (const p of batch) {
    const { cert, issuer, chainPem } = p.prepared;
    if (!active.has(issuer.ca.id)) {
      outcomes.push(issuerChanged());
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
    certificates.push(rows.certificate);
    audits.push(rows.auditEvent);
    outcomes.push({ ...cert, id: rows.certificate.id, issuerId: issuer.ca.id, chainPem });
  }
  for (const d of devices) Object.assign(d, current.get(d.id as string));
  if (devices.length) await tx.device.createMany({ data: devices });
  if (rotated.length) await tx.device.updateMany({ where: { id: { in: rotated } }, data: { lastRotatedAt: new Date() } });
  // fleet denormalization: existing devices get their new current certificate, one statement for the batch
  const created = new Set(devices.map((d) => d.id));
  const moved = [...current].filter(([id]) => !created.has(id));
  if (moved.length) await setCurrentCertificates(tx, moved);
  if (certificates.length) await tx.certificate.createMany({ data: certificates });
  if (audits.length) await tx.auditEvent.createMany({ data: audits });
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
    WHERE d.id = v.id`;
}
