// The issuance step shared by the EST use cases: the signing core's pipeline (prepare: parse, validate, sign),
// then the caller's checks and the writes in one transaction. A refusal writes only its audit event.
import type { Prisma } from "../../../generated/prisma/client.ts";
import { db, type Tx } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { metrics } from "../../metrics.ts";
import { type Actor, audit } from "../audit/record.ts";
import { type IssuedRecord, type IssueRequest, prepare, store } from "../certificates/issue-certificate.ts";

export type IssueHooks = {
  /** checks and writes that must commit with the certificate (run before it is stored) */
  before?: (tx: Tx) => Promise<void>;
  /** writes that need the stored certificate */
  after?: (tx: Tx, record: IssuedRecord) => Promise<void>;
};

export async function issueInTransaction(req: IssueRequest, hooks: IssueHooks = {}): Promise<IssuedRecord> {
  const started = performance.now();
  const prepared = await prepare(req);
  const record = await db().$transaction(async (tx) => {
    await hooks.before?.(tx);
    const r = await store(tx, req, prepared);
    await hooks.after?.(tx, r);
    return r;
  });
  metrics.certificatesIssued.inc({ profile: req.profile });
  metrics.issueSeconds.observe({ profile: req.profile }, (performance.now() - started) / 1000);
  return record;
}

/** Audit a refused device request (security-relevant, SPEC §7) and count it; never throws. */
export async function auditRefusal(actor: Actor, action: string, e: unknown, details: Prisma.InputJsonObject = {}): Promise<void> {
  if (!(e instanceof AppError)) return;
  metrics.refusals.inc({ code: e.code });
  await audit(null, actor, {
    action,
    outcome: "refused",
    customerId: "customerId" in actor ? (actor.customerId ?? null) : null,
    details: { code: e.code, message: e.message, ...details },
  }).catch(() => {});
}
