import Link from "next/link";
import { ReleaseButton } from "@/components/bootstrap/release-button.tsx";
import { RequestBootstrapForm } from "@/components/bootstrap/request-bootstrap-form.tsx";
import { enrollRateText } from "@/components/enrollment/enroll-rate.ts";
import { Pager } from "@/components/enrollment/pager.tsx";
import { RevokeBootstrapDialog } from "@/components/enrollment/revoke-bootstrap-dialog.tsx";
import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { Badge } from "@/components/ui/badge.tsx";
import { date, Table, TD } from "@/components/ui/table.tsx";
import { requireRole } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { listBootstrapCertificates } from "@/lib/data/certificates/list-bootstrap-certificates.ts";
import { bootstrapQuerySchema } from "@/lib/validations/bootstrap.ts";
import { REASON_OPTIONS } from "@/lib/validations/revocation.ts";

export default async function Page({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await requireRole(...rolesFor("/bootstrap"));
  const customerId = tenantOf(user);
  if (!customerId) return null; // staff never reach here (rolesFor); tenantOf refuses a customer user without one
  const q = bootstrapQuerySchema.parse(await searchParams);
  const { rows, total, page, pages } = await listBootstrapCertificates(customerId, { page: q.page, ...(q.size ? { size: q.size } : {}) });
  const admin = user.role === "CUSTOMER_ADMIN";
  const link = "font-mono text-xs text-blue-700 underline dark:text-blue-400";
  return (
    <>
      <PageHeader title="Bootstrapping certificates">
        Certificates that let devices enroll over mTLS. The rules every one of them follows are on the{" "}
        <Link href="/enrollment" className="text-blue-700 underline dark:text-blue-400">
          enrollment policy
        </Link>{" "}
        page.
      </PageHeader>
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
                  r.enrollRate.source === "server" ? null : `enrollment rate: ${enrollRateText(r.enrollRate)}`,
                ]
                  .filter(Boolean)
                  .join(" · ") || "—"}
              </td>
              {admin && (
                <td className={TD}>
                  <div className="flex flex-col items-start gap-2">
                    {r.status === "quarantined" && <ReleaseButton serial={r.serial} />}
                    {(r.status === "active" || r.status === "quarantined") && (
                      <Link href={`/bootstrap/${r.serial}/policy`} className="text-sm text-blue-700 underline dark:text-blue-400">
                        Edit policy
                      </Link>
                    )}
                    {r.status !== "expired" && (
                      <RevokeBootstrapDialog
                        serial={r.serial}
                        enrolled={r.enrolled}
                        revoked={r.status === "revoked"}
                        reasons={REASON_OPTIONS}
                      />
                    )}
                  </div>
                </td>
              )}
            </tr>
          ))}
          {rows.length === 0 && (
            <tr>
              <td className={TD} colSpan={admin ? 7 : 6}>
                {page > 1 ? "No bootstrapping certificates on this page." : "No bootstrapping certificates yet."}
              </td>
            </tr>
          )}
        </Table>
        <Pager
          label="Bootstrapping certificates"
          page={page}
          pages={pages}
          total={total}
          href={(p) => `/bootstrap?page=${p}${q.size ? `&size=${q.size}` : ""}`}
        />
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
