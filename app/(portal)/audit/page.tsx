import Link from "next/link";
import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { Badge } from "@/components/ui/badge.tsx";
import { Table, TD } from "@/components/ui/table.tsx";
import { requireRole } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { listAudit } from "@/lib/data/audit/list-audit.ts";
import { auditQuerySchema } from "@/lib/validations/audit.ts";

const CONTROL =
  "mt-1 block rounded-md border border-slate-300 bg-white px-3 py-2 text-sm dark:border-slate-700 dark:bg-slate-950 focus:outline-none focus:ring-1 focus:ring-blue-600";

export default async function AuditPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await requireRole(...rolesFor("/audit"));
  const q = auditQuerySchema.parse(await searchParams);
  const staff = user.role === "STAFF";
  const { rows, nextBefore, actions } = await listAudit(q, tenantOf(user));
  const next = new URLSearchParams({ ...(q.action ? { action: q.action } : {}), ...(q.outcome ? { outcome: q.outcome } : {}) });
  if (nextBefore) next.set("before", nextBefore);
  return (
    <>
      <PageHeader title="Audit log">{staff ? "Every customer's events." : "Your organisation's events."}</PageHeader>
      <form method="get" aria-label="Filter audit events" className="mb-4 flex flex-wrap items-end gap-3">
        <div>
          <label htmlFor="audit-action" className="block text-sm font-medium">
            Action
          </label>
          <select id="audit-action" name="action" defaultValue={q.action ?? ""} className={CONTROL}>
            <option value="">All actions</option>
            {actions.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="audit-outcome" className="block text-sm font-medium">
            Outcome
          </label>
          <select id="audit-outcome" name="outcome" defaultValue={q.outcome ?? ""} className={CONTROL}>
            <option value="">Any</option>
            <option value="success">Success</option>
            <option value="refused">Refused</option>
            <option value="failure">Failure</option>
          </select>
        </div>
        <button
          type="submit"
          className="rounded-md bg-blue-700 px-4 py-2 text-sm font-medium text-white hover:bg-blue-800 dark:bg-blue-600"
        >
          Apply
        </button>
      </form>
      <Table
        caption="Audit events"
        head={["Time (UTC)", "Action", "Outcome", "Actor", ...(staff ? ["Customer"] : []), "Target", "Address", "Details"]}
      >
        {rows.map((r) => (
          <tr key={r.id} data-testid="audit-row">
            <td className={`${TD} whitespace-nowrap tabular-nums`}>{r.at.replace("T", " ").slice(0, 19)}</td>
            <td className={`${TD} font-mono text-xs`}>{r.action}</td>
            <td className={TD}>
              <Badge>{r.outcome}</Badge>
            </td>
            <td className={TD}>{r.actor}</td>
            {staff && <td className={TD}>{r.customer ?? "—"}</td>}
            <td className={`${TD} font-mono text-xs`}>{r.target ?? "—"}</td>
            <td className={`${TD} font-mono text-xs`}>{r.address ?? "—"}</td>
            <td className={`${TD} max-w-md truncate font-mono text-xs`} title={r.details ?? undefined}>
              {r.details ?? ""}
            </td>
          </tr>
        ))}
        {rows.length === 0 && (
          <tr>
            <td className={TD} colSpan={8}>
              No events match.
            </td>
          </tr>
        )}
      </Table>
      {nextBefore && (
        <nav aria-label="Pagination" className="mt-4 text-sm">
          <Link href={`/audit?${next.toString()}`} className="text-blue-700 underline dark:text-blue-400">
            Older events
          </Link>
        </nav>
      )}
    </>
  );
}
