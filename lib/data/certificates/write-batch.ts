// Group commit for issuance writes. Signing is CPU work that needs no lock; the database write is a
// transaction whose commit dominates (a flush per commit). Under load, issuances that arrive while a
// commit is in flight are stored together in the next transaction, so the write cost per certificate falls
// as load rises, with no added latency when idle. A batch is one statement, `issue_batch(…)` (migration
// 20261122104000_issue_batch): its own transaction and one round trip, with the batch's columns as arrays.
// Every issuance keeps its own outcome: a refused row (issuer changed, key reused, device exists or
// decommissioned, authenticating certificate revoked meanwhile) refuses that one only.
import { db, driverQuery } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import {
  authRevoked,
  deviceDecommissioned,
  deviceExists,
  type IssuedRecord,
  type IssueRequest,
  issuanceRows,
  issuerChanged,
  keyCertified,
  type Prepared,
  resetCredentialMismatch,
  store,
} from "./issue-certificate.ts";

type Issuance = { req: IssueRequest; prepared: Prepared };
type Pending = Issuance & { resolve(r: IssuedRecord): void; reject(e: unknown): void };

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
    if (writers < WRITERS) {
      writers++;
      // from the next microtask, so every issuance queued in this tick joins the batch
      queueMicrotask(flush);
    }
  });
}

async function flush() {
  try {
    while (queue.length) {
      // half of what waits: the rest forms the next batch, signed for while this one is written
      const batch = queue.slice(0, Math.min(MAX_BATCH, Math.ceil(queue.length / 2)));
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
    outcomes = await storeBatch(batch);
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

const ISSUE_BATCH = `SELECT issue_batch($1::timestamp, $2::uuid[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::uuid[],
  $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamp[], $13::timestamp[], $14::text[], $15::text[], $16::boolean[],
  $17::uuid[], $18::boolean[], $19::text[], $20::text[], $21::uuid[], $22::jsonb[], $23::uuid[]) AS outcomes`;

/** The error of a row issue_batch refused. */
function refusal(outcome: string, p: Issuance): AppError {
  switch (outcome) {
    case "issuer_changed":
      return issuerChanged();
    case "csr_key_reused":
      return keyCertified();
    case "device_exists":
      return deviceExists(p.prepared.cert.deviceId ?? "");
    case "auth_revoked":
      return authRevoked();
    case "device_decommissioned":
      return deviceDecommissioned();
    case "reset_credential_mismatch":
      return resetCredentialMismatch();
    default:
      return new AppError("internal", `issue_batch answered ${outcome}`, 500);
  }
}

/**
 * Store prepared issuances with one statement (one transaction), deciding each row in order as if they were
 * issued one after another; each gets its record or its refusal. Throws only if the statement fails as a whole.
 */
export async function storeBatch(batch: Issuance[]): Promise<(IssuedRecord | Error)[]> {
  const rows = batch.map((p) => issuanceRows(p.req, p.prepared, null));
  const cert = <K extends keyof (typeof rows)[number]["certificate"]>(k: K) => rows.map((r) => r.certificate[k] ?? null);
  const audit = <K extends keyof (typeof rows)[number]["auditEvent"]>(k: K) => rows.map((r) => r.auditEvent[k] ?? null);
  const iso = (d: unknown) => (d instanceof Date || typeof d === "string" ? new Date(d).toISOString() : null);
  // hex straight from the signed DER (a view, no copy)
  const hex = batch.map(({ prepared: { cert } }) => Buffer.from(cert.der.buffer, cert.der.byteOffset, cert.der.byteLength).toString("hex"));
  const details = rows.map((r) => (r.auditEvent.details === undefined ? null : JSON.stringify(r.auditEvent.details)));
  // the application's UTC clock, not the database's now(): columns are UTC without a zone, whatever the server's zone
  const now = new Date().toISOString();
  const params = [
    now,
    cert("id"),
    cert("serial"),
    cert("kind"),
    cert("profile"),
    cert("issuerId"),
    cert("customerId"),
    cert("uid"),
    cert("subject"),
    cert("spkiSha256"),
    hex,
    rows.map((r) => iso(r.certificate.notBefore)),
    rows.map((r) => iso(r.certificate.notAfter)),
    cert("authorizedBy"),
    batch.map((p) => (p.req.customerId ? (p.prepared.cert.deviceId ?? null) : null)),
    batch.map((p) => p.req.device === "create"),
    batch.map((p) => p.req.enrolledById ?? null),
    batch.map((p) => p.req.requireNewKey === true),
    audit("actorType"),
    audit("actorId"),
    audit("customerId"),
    details,
    batch.map((p) => p.req.authCertId ?? null),
  ];
  const [{ outcomes }] = await driverQuery<{ outcomes: string[] }>(ISSUE_BATCH, params);
  return batch.map((p, i) =>
    outcomes[i] === "ok"
      ? { ...p.prepared.cert, id: rows[i].certificate.id, issuerId: p.prepared.issuer.ca.id, chainPem: p.prepared.chainPem }
      : refusal(outcomes[i], p),
  );
}
