import Link from "next/link";
import { BarChart } from "@/components/charts/bar-chart.tsx";
import { ShareBar } from "@/components/charts/share-bar.tsx";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireUser } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { type FleetCount, fleetStats } from "@/lib/data/fleet/fleet-stats.ts";

/** A count as the fleet page shows it: exact, or — past the count cap at fleet scale — the planner's estimate. */
function Amount({ count }: { count: FleetCount }) {
  return (
    <>
      {!count.totalExact && (
        <>
          <span className="sr-only">about </span>
          <span aria-hidden="true">≈ </span>
        </>
      )}
      {count.total.toLocaleString("en")}
    </>
  );
}

function Stat({ label, count, href }: { label: string; count: FleetCount; href: string }) {
  return (
    <Link
      href={href}
      className="block rounded-lg border border-slate-200 p-4 hover:bg-slate-50 dark:border-slate-800 dark:hover:bg-slate-900"
    >
      <div className="text-sm text-slate-600 dark:text-slate-400">{label}</div>
      <div className="mt-1 text-3xl font-semibold tabular-nums">
        <Amount count={count} />
      </div>
    </Link>
  );
}

function AttentionItem({ label, hint, count, href }: { label: string; hint: string; count: FleetCount; href: string }) {
  return (
    <li>
      <Link href={href} className="flex items-baseline justify-between gap-4 rounded hover:underline">
        <span>
          <span className="font-medium">{label}</span>
          <span className="block text-xs text-slate-600 dark:text-slate-400">{hint}</span>
        </span>
        <span className="whitespace-nowrap text-xl font-semibold tabular-nums">
          <Amount count={count} />
        </span>
      </Link>
    </li>
  );
}

export default async function OverviewPage() {
  const user = await requireUser();
  const s = await fleetStats(tenantOf(user));
  return (
    <>
      <PageHeader title="Overview">Signed in as {user.email}.</PageHeader>
      <section aria-label="Fleet counts" className="grid grid-cols-2 gap-4 lg:grid-cols-4">
        <Stat label="Devices" count={s.devices} href="/devices" />
        <Stat label="Active devices" count={s.active} href="/devices?status=active" />
        <Stat label="Expiring in 30 days" count={s.expiring} href="/devices?expiring=30" />
        <Stat label="Rotation overdue" count={s.overdue} href="/devices?overdue=1" />
      </section>
      <div className="mt-8 grid gap-8 lg:grid-cols-3">
        <section aria-labelledby="issuances" className="rounded-lg border border-slate-200 p-4 lg:col-span-2 dark:border-slate-800">
          <h2 id="issuances" className="mb-3 font-semibold">
            Issuances per day (last 30 days)
          </h2>
          <BarChart
            title="Certificates issued per day"
            unit="certificates"
            points={s.issuances.map((p) => ({ label: p.day, value: p.n }))}
          />
        </section>
        <section aria-labelledby="compliance" className="rounded-lg border border-slate-200 p-4 dark:border-slate-800">
          <h2 id="compliance" className="mb-3 font-semibold">
            Rotation compliance
          </h2>
          <ShareBar
            title="Active devices rotated within 30 days"
            good={s.compliance.compliant}
            bad={s.compliance.overdue}
            goodLabel="Rotated within 30 days"
            badLabel="Overdue"
          />
          {!s.compliance.exact && (
            <p className="mt-2 text-xs text-slate-600 dark:text-slate-400">Estimated from database statistics at this fleet size.</p>
          )}
        </section>
        <section aria-labelledby="expiries" className="rounded-lg border border-slate-200 p-4 lg:col-span-2 dark:border-slate-800">
          <h2 id="expiries" className="mb-3 font-semibold">
            Upcoming expiries by week (next 12 weeks)
          </h2>
          <BarChart
            title="Device certificates expiring per week, by the week's first day"
            unit="certificates"
            points={s.expiries.weeks.map((p) => ({ label: p.week, value: p.n }))}
          />
          {!s.expiries.exact && (
            <p className="mt-2 text-xs text-slate-600 dark:text-slate-400">Estimated from database statistics at this fleet size.</p>
          )}
          <p className="mt-2 text-sm">
            <Link href="/devices?expiring=90" className="text-blue-700 underline dark:text-blue-400">
              Devices expiring within 90 days
            </Link>
          </p>
        </section>
        <section aria-labelledby="attention" className="rounded-lg border border-slate-200 p-4 dark:border-slate-800">
          <h2 id="attention" className="mb-3 font-semibold">
            Needs attention
          </h2>
          <ul className="space-y-3">
            <AttentionItem
              label="Quarantined"
              hint="enrolled with a quarantined bootstrapping certificate"
              count={s.quarantined}
              href="/devices?status=quarantined"
            />
            <AttentionItem
              label="Expired"
              hint="current certificate expired, not rotated"
              count={s.expired}
              href="/devices?status=expired&sort=expiry&dir=desc"
            />
          </ul>
        </section>
      </div>
    </>
  );
}
