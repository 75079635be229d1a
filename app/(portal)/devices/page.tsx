import Link from "next/link";
import { FleetFilters } from "@/components/fleet/fleet-filters.tsx";
import { FleetTable } from "@/components/fleet/fleet-table.tsx";
import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireRole } from "@/lib/auth/session.ts";
import { customerNames } from "@/lib/data/customers/customer-names.ts";
import { effectiveQuery } from "@/lib/data/fleet/fleet-filter.ts";
import { fleetScope } from "@/lib/data/fleet/fleet-scope.ts";
import { listDevices } from "@/lib/data/fleet/list-devices.ts";
import { fleetQuerySchema } from "@/lib/validations/fleet.ts";

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

function href(params: Record<string, string | string[] | undefined>, change: Record<string, string | null>, base = "/devices") {
  const url = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (typeof v === "string" && v !== "") url.set(k, v);
  for (const [k, v] of Object.entries(change)) v === null ? url.delete(k) : url.set(k, v);
  const s = url.toString();
  return s ? `${base}?${s}` : base;
}

export default async function DevicesPage({ searchParams }: { searchParams: SearchParams }) {
  const user = await requireRole(...rolesFor("/devices"));
  const params = await searchParams;
  const q = fleetQuerySchema.parse(params);
  const sorted = effectiveQuery(q);
  const scope = fleetScope(user, q);
  const staff = user.role === "STAFF";
  const [page, names] = await Promise.all([listDevices(q, scope), staff ? customerNames() : Promise.resolve(null)]);
  const customers = names ? Object.entries(names).map(([id, name]) => ({ id, name })) : null;
  return (
    <>
      <div className="flex items-start justify-between">
        <PageHeader title="Device fleet">
          Devices by SAN UID, device id or serial. Rotation is overdue after 30 days; quarantined devices were enrolled with a quarantined
          bootstrapping certificate.
        </PageHeader>
        <a
          href={href(params, { cursor: null }, "/devices/export")}
          className="rounded-md border border-slate-300 px-4 py-2 text-sm font-medium hover:bg-slate-100 dark:border-slate-700 dark:hover:bg-slate-800"
          download
        >
          Export CSV
        </a>
      </div>
      <FleetFilters q={q} customers={customers} />
      <p className="mb-2 text-sm text-slate-600 dark:text-slate-400" aria-live="polite" data-testid="fleet-total">
        {page.totalExact ? "" : "about "}
        {page.total.toLocaleString("en")} {page.total === 1 ? "device" : "devices"}
      </p>
      {q.expiring && (
        <p className="mb-2 text-sm text-slate-600 dark:text-slate-400">
          Devices whose certificate expires within {q.expiring} {q.expiring === 1 ? "day" : "days"} are listed by expiry.
        </p>
      )}
      <FleetTable
        rows={page.rows}
        sort={sorted.sort}
        dir={sorted.dir}
        showCustomer={staff && !scope.customerId}
        sortable={q.expiring ? ["expiry"] : undefined}
      />
      <nav aria-label="Pagination" className="mt-4 flex gap-4 text-sm">
        {q.cursor && (
          <Link href={href(params, { cursor: null })} className="text-blue-700 underline dark:text-blue-400">
            First page
          </Link>
        )}
        {page.nextCursor && (
          <Link href={href(params, { cursor: page.nextCursor })} className="text-blue-700 underline dark:text-blue-400">
            Next page
          </Link>
        )}
      </nav>
    </>
  );
}
