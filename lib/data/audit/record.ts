import type { Prisma } from "../../../generated/prisma/client.ts";
import { type Tx as DbTx, db } from "../../db/client.ts";

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
    customerId: e.customerId ?? ("customerId" in actor ? (actor.customerId ?? null) : null),
    target: e.target ?? null,
    ...(e.details === undefined ? {} : { details: e.details }),
    ip: e.ip ?? null,
  };
}

/** Append an audit event, inside the caller's transaction when one is given. */
export async function audit(tx: Tx | null, actor: Actor, e: AuditEntry): Promise<void> {
  await (tx ?? db()).auditEvent.create({ data: auditRow(actor, e) });
}
