import Link from "next/link";
import { CaTable } from "@/components/ca/ca-table.tsx";
import { BarChart } from "@/components/charts/bar-chart.tsx";
import { ShareBar } from "@/components/charts/share-bar.tsx";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireUser } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { type CaSummary, listCas } from "@/lib/data/ca/list-cas.ts";
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

/**
 * A customer's own CAs (SPEC §8 "customer overview with CA status"). After staff revoked the customer's TLS issuing
 * CA (§6), every device and bootstrapping certificate under it is cut off: the customer must provision new
 * bootstrapping certificates, and this is where they learn it.
 */
function CustomerCas({ cas }: { cas: CaSummary[] }) {
  const revoked = cas.filter((ca) => ca.kind === "CUSTOMER_TLS_ISSUING" && ca.status === "REVOKED");
  const active = cas.find((ca) => ca.kind === "CUSTOMER_TLS_ISSUING" && ca.status === "ACTIVE");
  return (
    <section aria-labelledby="cas" className="mt-8">
      <h2 id="cas" className="mb-2 text-lg font-semibold">
        Your certificate authorities
      </h2>
      {revoked.length > 0 && (
        <p role="alert" className="mb-3 rounded-md border border-red-300 bg-red-50 p-3 text-sm dark:border-red-900 dark:bg-red-950">
          Your TLS issuing CA generation {revoked.map((ca) => `G${ca.generation}`).join(", ")} was revoked: devices and bootstrapping
          certificates under it no longer work. {active ? `Generation G${active.generation} is active. ` : ""}
          <Link href="/bootstrap" className="underline">
            Provision new bootstrapping certificates
          </Link>{" "}
          for the devices still to enroll.
        </p>
      )}
      <CaTable cas={cas} actions={false} customerColumn={false} />
    </section>
  );
}

export default async function OverviewPage() {
  const user = await requireUser();
  const tenant = tenantOf(user);
  const [s, cas] = await Promise.all([fleetStats(tenant), tenant ? listCas({ customerId: tenant }) : null]);
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
      {cas && <CustomerCas cas={cas} />}
    </>
  );
}
