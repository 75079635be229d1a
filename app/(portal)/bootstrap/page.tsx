import Link from "next/link";
import { ReleaseButton } from "@/components/bootstrap/release-button.tsx";
import { RequestBootstrapForm } from "@/components/bootstrap/request-bootstrap-form.tsx";
import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { Badge } from "@/components/ui/badge.tsx";
import { date, Table, TD } from "@/components/ui/table.tsx";
import { requireRole } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { listBootstrapCertificates } from "@/lib/data/certificates/list-bootstrap-certificates.ts";

export default async function Page() {
  const user = await requireRole(...rolesFor("/bootstrap"));
  const customerId = tenantOf(user);
  if (!customerId) return null; // staff never reach here (rolesFor); tenantOf refuses a customer user without one
  const rows = await listBootstrapCertificates(customerId);
  const admin = user.role === "CUSTOMER_ADMIN";
  const link = "font-mono text-xs text-blue-700 underline dark:text-blue-400";
  return (
    <>
      <PageHeader title="Bootstrapping certificates">Certificates that let devices enroll over mTLS.</PageHeader>
      <section aria-labelledby="list" className="mb-8">
        <h2 id="list" className="mb-3 text-lg font-semibold">
          Your organisation's bootstrapping certificates
        </h2>
        <Table
          caption="Bootstrapping certificates"
          head={["Serial", "Created", "Expires", "Status", "Enrollments used / budget", "Policy", ...(admin ? [""] : [])]}
        >
          {rows.map((r) => (
            <tr key={r.serial} data-testid="bootstrap-row">
              <td className={TD}>
                <Link href={`/certificates/${r.serial}`} className={link}>
                  {r.serial}
                </Link>
              </td>
              <td className={`${TD} tabular-nums`}>{date(r.createdAt)}</td>
              <td className={`${TD} tabular-nums`}>{date(r.notAfter)}</td>
              <td className={TD} title={r.quarantineReason ?? undefined}>
                <Badge tone={r.status === "quarantined" ? "amber" : undefined}>{r.status}</Badge>
              </td>
              <td className={`${TD} tabular-nums`} data-testid="bootstrap-usage">
                {r.enrolled} / {r.maxEnrollments ?? "∞"}
              </td>
              <td className={`${TD} text-xs`}>
                {[
                  r.enrollUntil ? `until ${r.enrollUntil.replace("T", " ").slice(0, 16)} UTC` : null,
                  r.allowDeviceIds ? `${r.allowDeviceIds} expected device ids` : null,
                ]
                  .filter(Boolean)
                  .join(" · ") || "—"}
              </td>
              {admin && <td className={TD}>{r.status === "quarantined" && <ReleaseButton serial={r.serial} />}</td>}
            </tr>
          ))}
          {rows.length === 0 && (
            <tr>
              <td className={TD} colSpan={admin ? 7 : 6}>
                No bootstrapping certificates yet.
              </td>
            </tr>
          )}
        </Table>
      </section>
      {admin && (
        <section aria-labelledby="request" className="rounded-lg border border-slate-200 p-4 dark:border-slate-800">
          <h2 id="request" className="mb-3 text-lg font-semibold">
            Request a bootstrapping certificate
          </h2>
          <RequestBootstrapForm />
        </section>
      )}
    </>
  );
}
