import "server-only";
import type { Prisma } from "../../../generated/prisma/client.ts";
import { db } from "../../db/client.ts";
import type { AuditQuery } from "../../validations/audit.ts";
import { isUuid } from "../../validations/common.ts";

const PAGE = 50;

/**
 * Audit events, newest first, keyset-paginated by id. `customerId` null = staff (everything); otherwise
 * only that customer's events. The action filter matches a whole action or a prefix ("certificate.").
 */
export async function listAudit(q: AuditQuery, customerId: string | null) {
  const where: Prisma.AuditEventWhereInput = {
    ...(customerId ? { customerId } : {}),
    ...(q.action ? { action: q.action.endsWith(".") ? { startsWith: q.action } : q.action } : {}),
    ...(q.outcome ? { outcome: q.outcome } : {}),
    ...(q.before ? { id: { lt: BigInt(q.before) } } : {}),
  };
  const [rows, actions] = await Promise.all([
    db().auditEvent.findMany({
      where,
      orderBy: { id: "desc" },
      take: PAGE + 1,
      select: {
        id: true,
        at: true,
        action: true,
        outcome: true,
        actorType: true,
        actorId: true,
        target: true,
        details: true,
        ip: true,
        customer: { select: { name: true } },
      },
    }),
    db().auditEvent.findMany({
      where: customerId ? { customerId } : {},
      distinct: ["action"],
      select: { action: true },
      orderBy: { action: "asc" },
    }),
  ]);
  const page = rows.slice(0, PAGE);
  // actors are user ids: show their email where we know it
  const userIds = [...new Set(page.filter((r) => r.actorType === "user" && r.actorId).map((r) => r.actorId as string))].filter(isUuid);
  const users = userIds.length ? await db().user.findMany({ where: { id: { in: userIds } }, select: { id: true, email: true } }) : [];
  const email = new Map(users.map((u) => [u.id, u.email]));
  return {
    rows: page.map((r) => ({
      id: r.id.toString(),
      at: r.at.toISOString(),
      action: r.action,
      outcome: r.outcome,
      actor:
        r.actorType === "user" && r.actorId ? (email.get(r.actorId) ?? r.actorId) : `${r.actorType}${r.actorId ? `:${r.actorId}` : ""}`,
      customer: r.customer?.name ?? null,
      target: r.target,
      address: r.ip,
      details: r.details === null ? null : JSON.stringify(r.details),
    })),
    nextBefore: rows.length > PAGE ? page.at(-1)?.id.toString() : null,
    actions: actions.map((a) => a.action),
  };
}
