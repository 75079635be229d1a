import Link from "next/link";
import { BarChart } from "@/components/charts/bar-chart.tsx";
import { ShareBar } from "@/components/charts/share-bar.tsx";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireUser } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { fleetStats } from "@/lib/data/fleet/fleet-stats.ts";

function Stat({ label, value, href }: { label: string; value: number; href: string }) {
  return (
    <Link
      href={href}
      className="block rounded-lg border border-slate-200 p-4 hover:bg-slate-50 dark:border-slate-800 dark:hover:bg-slate-900"
    >
      <div className="text-sm text-slate-600 dark:text-slate-400">{label}</div>
      <div className="mt-1 text-3xl font-semibold tabular-nums">{value.toLocaleString("en")}</div>
    </Link>
  );
}

export default async function OverviewPage() {
  const user = await requireUser();
  const s = await fleetStats(tenantOf(user));
  return (
    <>
      <PageHeader title="Overview">Signed in as {user.email}.</PageHeader>
      <section aria-label="Fleet counts" className="grid grid-cols-2 gap-4 lg:grid-cols-4">
        <Stat label="Active devices" value={s.devices} href="/devices?status=active" />
        <Stat label="Live certificates" value={s.liveCerts} href="/devices?status=active" />
        <Stat label="Expiring in 30 days" value={s.expiring} href="/devices?status=active&sort=expiry&dir=asc" />
        <Stat label="Rotation overdue" value={s.overdue} href="/devices?overdue=1" />
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
            good={s.compliant}
            bad={s.overdue}
            goodLabel="Rotated within 30 days"
            badLabel="Overdue"
          />
        </section>
      </div>
    </>
  );
}
