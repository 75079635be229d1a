// The issuance step shared by the EST use cases: the signing core's pipeline (prepare: parse, validate, sign),
// then the caller's checks and the writes in one transaction; and the audit of
// refused device requests. A refusal writes only its (rate-limited) audit event.
import type { Prisma } from "../../../generated/prisma/client.ts";
import { db, type Tx } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { log } from "../../log.ts";
import { metrics } from "../../metrics.ts";
import { certificateIdentity } from "../../pki/certificate.ts";
import { addToWindow, clientKey, countInWindow, previousWindowCount } from "../api/rate-limit.ts";
import { type Actor, auditRow } from "../audit/record.ts";
import { lockActiveIssuers } from "../ca/hierarchy.ts";
import {
  type IssuedRecord,
  type IssueRequest,
  issuerChanged,
  prepare,
  retryOnNewIssuer,
  store,
} from "../certificates/issue-certificate.ts";

export type IssueHooks = {
  /** checks and writes that must commit with the certificate (run before it is stored) */
  before?: (tx: Tx) => Promise<void>;
  /** writes that need the stored certificate */
  after?: (tx: Tx, record: IssuedRecord) => Promise<void>;
};

export async function issueInTransaction(req: IssueRequest, hooks: IssueHooks = {}): Promise<IssuedRecord> {
  const started = performance.now();
  const record = await retryOnNewIssuer(req, async () => {
    const prepared = await prepare(req);
    return db().$transaction(async (tx) => {
      // the issuer's share lock first, as issue_batch takes it: a CA revocation locks the CA before the
      // certificates and devices it revokes, so the hooks' row locks (device, credential) come after it here too
      if (!(await lockActiveIssuers(tx, [prepared.issuer.ca.id])).has(prepared.issuer.ca.id)) throw issuerChanged();
      await hooks.before?.(tx);
      const r = await store(tx, req, prepared);
      await hooks.after?.(tx, r);
      return r;
    });
  });
  metrics.certificatesIssued.inc({ profile: req.profile });
  metrics.issueSeconds.observe({ profile: req.profile }, (performance.now() - started) / 1000);
  return record;
}

// ---- refusals ---------------------------------------------------------------------------------------------

/** Who a refused device request came from, as far as it is known. */
export type RefusedCaller = {
  /** the presented client certificate's serial (hex), when it parses */
  serial: string | null;
  /** only when the certificate is proven to be the customer's: ours, or matched to their enrollment group */
  customerId: string | null;
  /** the enrollment group a maker certificate matched */
  groupId?: string | null;
  /** the client's address */
  ip: string | null;
  /** the presented certificate is ours and was revoked as superseded: a newer one of its device is in use */
  superseded?: boolean;
};

/** One audit row per (caller, code) and window; the refusals after it in the window are only counted. */
export const REFUSAL_AUDIT_WINDOW_SECONDS = 60;

// This process's refusals of each audit key in its current window, beyond the one it counted in the database.
const uncounted = new Map<string, { windowStart: number; extra: number }>();
const UNCOUNTED_MAX = 10_000;

/**
 * Audit a refused device request (SPEC §7) so that no client can flood the audit table: the first refusal of
 * each (caller, code) in a minute is written, with how many more the previous minute saw; the others are only
 * counted. The caller is the certificate when it is proven to be a customer's, the enrollment group for maker
 * certificates (whoever holds a maker CA key mints serials at will), and otherwise the client's address, IPv6
 * by /64 (anybody can make self-signed certificates). A process counts a key's window in the database once
 * (the first process there writes the row) and its further refusals in memory, added to that window's count
 * when the key's next window begins here: a flood costs no database write. Never throws.
 */
export async function auditRefusal(
  action: string,
  e: AppError,
  who: RefusedCaller,
  details: Prisma.InputJsonObject = {},
  now = new Date(),
): Promise<void> {
  const subject = who.groupId
    ? `group:${who.groupId}`
    : who.customerId && who.serial
      ? `cert:${who.serial}`
      : `ip:${clientKey(who.ip, 48)}`;
  const key = `refusal:${subject}:${e.code}`;
  const windowMs = REFUSAL_AUDIT_WINDOW_SECONDS * 1000;
  const windowStart = Math.floor(now.getTime() / windowMs) * windowMs;
  const mine = uncounted.get(key);
  if (mine?.windowStart === windowStart) {
    mine.extra++;
    return;
  }
  uncounted.delete(key);
  if (uncounted.size >= UNCOUNTED_MAX) uncounted.delete(uncounted.keys().next().value as string);
  uncounted.set(key, { windowStart, extra: 0 });
  try {
    if (mine?.extra) await addToWindow(key, new Date(mine.windowStart), mine.extra);
    if ((await countInWindow(key, REFUSAL_AUDIT_WINDOW_SECONDS, now)) > 1) return;
    const before = await previousWindowCount(key, REFUSAL_AUDIT_WINDOW_SECONDS, now);
    const entry = {
      action,
      outcome: "refused" as const,
      customerId: who.customerId,
      ...(who.serial ? { target: `certificate:${who.serial}` } : {}),
      ...(who.ip ? { ip: who.ip } : {}),
      details: {
        code: e.code,
        message: e.message,
        status: e.status,
        ...(who.groupId ? { groupId: who.groupId } : {}),
        ...(before > 1 ? { repeatsNotWrittenLastWindow: before - 1 } : {}),
        ...(e instanceof DetailedRefusal ? e.details : {}),
        ...details,
      },
    };
    // The Actor type gives every device a customer; a refused certificate not proven ours has none.
    const actor: Actor = { type: "device", id: who.serial ?? `ip:${who.ip ?? "unknown"}`, customerId: who.customerId ?? "" };
    await db().auditEvent.create({ data: { ...auditRow(actor, entry), customerId: who.customerId } });
  } catch (err) {
    log.error({ err, code: e.code }, "could not audit a device refusal");
  }
}

/**
 * The serial of a refused client certificate, and its customer when it is byte for byte a certificate we
 * issued (a foreign certificate may copy one of our serials; it must not write into that customer's log).
 * A refusal that says the chain is not ours (chain_untrusted, cert_malformed) needs no look-up.
 */
export async function refusedCertificateOwner(
  leafDer: Buffer,
  code: string,
): Promise<{ serial: string | null; customerId: string | null; superseded?: boolean }> {
  let serial: string;
  try {
    serial = certificateIdentity(leafDer).serialHex;
  } catch {
    return { serial: null, customerId: null };
  }
  if (code === "chain_untrusted" || code === "cert_malformed") return { serial, customerId: null };
  const row = await db()
    .certificate.findUnique({ where: { serial }, select: { customerId: true, der: true, revocationReason: true } })
    .catch(() => null);
  const ours = row !== null && Buffer.from(row.der).equals(leafDer);
  return { serial, customerId: ours ? row.customerId : null, superseded: ours && row.revocationReason === "superseded" };
}

/** A refusal whose audit event carries more than its code and message (clone_suspected: the newest serial). */
export class DetailedRefusal extends AppError {
  constructor(
    code: string,
    message: string,
    status: number,
    readonly details: Prisma.InputJsonObject,
  ) {
    super(code, message, status);
  }
}
