import type { Prisma } from "../../../generated/prisma/client.ts";
import { type Tx as DbTx, db } from "../../db/client.ts";
import { log } from "../../log.ts";
import { countInWindow } from "../api/rate-limit.ts";

/** Who did something: a portal user, an API client, a device (by certificate serial) or the system. */
export type Actor =
  | { type: "user"; id: string; customerId?: string | null }
  | { type: "client"; id: string; customerId: string }
  | { type: "device"; id: string; customerId: string }
  | { type: "system"; id?: string };

export type AuditEntry = {
  action: string;
  outcome?: "success" | "refused" | "failure";
  customerId?: string | null;
  target?: string;
  details?: Prisma.InputJsonValue;
  ip?: string;
};

type Tx = Pick<DbTx, "auditEvent">;

/** The row an audit event is stored as (batch writers insert many at once). */
export function auditRow(actor: Actor, e: AuditEntry): Prisma.AuditEventCreateManyInput {
  return {
    action: e.action,
    outcome: e.outcome ?? "success",
    actorType: actor.type,
    actorId: actor.id ?? null,
    // the entry's customer when it names one (null: none), else the actor's ("" — an unknown client's — is none)
    customerId: e.customerId !== undefined ? e.customerId : "customerId" in actor ? actor.customerId || null : null,
    target: e.target ?? null,
    ...(e.details === undefined ? {} : { details: e.details }),
    ip: e.ip ?? null,
  };
}

/** Append an audit event, inside the caller's transaction when one is given. */
export async function audit(tx: Tx | null, actor: Actor, e: AuditEntry): Promise<void> {
  await (tx ?? db()).auditEvent.create({ data: auditRow(actor, e) });
}

const seenThisWindow = new Map<string, number>();
const SEEN_MAX = 10_000;

/**
 * Audit a refusal at most once per `key` and minute (the rest are only counted, in RateLimitBucket): no caller can
 * grow the audit log without bound by repeating a refused request. Never throws: a refusal is answered anyway.
 */
export async function auditRefusalOnce(key: string, actor: Actor, e: AuditEntry): Promise<void> {
  // a key this process has already counted this minute costs no database work at all
  const windowStart = Math.floor(Date.now() / 60_000);
  if (seenThisWindow.get(key) === windowStart) return;
  if (seenThisWindow.size >= SEEN_MAX) seenThisWindow.clear();
  seenThisWindow.set(key, windowStart);
  try {
    if ((await countInWindow(`audit_refusal:${key}`, 60)) > 1) return;
    await audit(null, actor, { ...e, outcome: "refused" });
  } catch (err) {
    log.error({ err: err instanceof Error ? err.message : String(err), action: e.action }, "could not audit a refused request");
  }
}

// Refusals a use case has audited itself (with its own action and details): the API's catch-all leaves them be.
const auditedRefusals = new WeakSet<object>();

/** Note that `e`'s refusal has its audit event (see auditApiRefusal in lib/api/http.ts). */
export function markAudited(e: unknown): void {
  if (typeof e === "object" && e !== null) auditedRefusals.add(e);
}

export function isAudited(e: unknown): boolean {
  return typeof e === "object" && e !== null && auditedRefusals.has(e);
}
