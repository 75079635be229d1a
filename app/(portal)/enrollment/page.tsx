import Link from "next/link";
import { DeviceSecretForm } from "@/components/enrollment/device-secret-form.tsx";
import { DisableGroupButton } from "@/components/enrollment/disable-group-button.tsx";
import { enrollRateText } from "@/components/enrollment/enroll-rate.ts";
import { GroupForm } from "@/components/enrollment/group-form.tsx";
import { Pager } from "@/components/enrollment/pager.tsx";
import { PolicyForm } from "@/components/enrollment/policy-form.tsx";
import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { Badge } from "@/components/ui/badge.tsx";
import { Fields } from "@/components/ui/dl.tsx";
import { date, Table, TD } from "@/components/ui/table.tsx";
import { requireRole } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { listCustomerUsers } from "@/lib/data/clients/manage-clients.ts";
import { customerPolicy, listDeviceSecrets, listEnrollmentGroups, registrationCode } from "@/lib/data/enrollment/manage-policy.ts";
import { enrollmentQuerySchema, LIST_MAX_BYTES } from "@/lib/validations/enrollment.ts";

const utc = (d: Date | null) => (d ? `${d.toISOString().replace("T", " ").slice(0, 16)} UTC` : "—");
const SECTION = "mb-10 space-y-4";
const BOX = "rounded-lg border border-slate-200 p-4 dark:border-slate-800";

export default async function EnrollmentPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const user = await requireRole(...rolesFor("/enrollment"));
  const customerId = tenantOf(user);
  if (!customerId) return null; // staff never reach here (rolesFor); tenantOf refuses a customer user without one
  const q = enrollmentQuerySchema.parse(await searchParams);
  const admin = user.role === "CUSTOMER_ADMIN";
  const [policy, secrets, groups, users] = await Promise.all([
    customerPolicy(customerId),
    listDeviceSecrets(customerId, { page: q.secrets }),
    listEnrollmentGroups(customerId),
    admin ? listCustomerUsers(customerId) : Promise.resolve([]),
  ]);
  const listText = (l: { count: number; preview: string[] }, empty: string) =>
    l.count === 0
      ? empty
      : `${l.count.toLocaleString("en")} device ${l.count === 1 ? "id" : "ids"} (${l.preview.join(", ")}${l.count > l.preview.length ? ", …" : ""})`;
  return (
    <>
      <PageHeader title="Enrollment policy">
        Which devices may enroll with your bootstrapping certificates: customer-wide rules, one-time device secrets, and enrollment groups
        for devices that carry your own manufacturer CA.
      </PageHeader>

      <section aria-labelledby="policy" className={SECTION}>
        <h2 id="policy" className="text-lg font-semibold">
          Customer-wide policy
        </h2>
        <p className="text-sm text-slate-600 dark:text-slate-400">
          Applies to every bootstrapping certificate together with the certificate's own policy (set when it is requested): both allow-lists
          must name a device, both deny-lists refuse.
        </p>
        <div data-testid="policy-summary">
          <Fields
            items={[
              ["Allow-list", listText(policy.allow, "any device id")],
              ["Deny-list", listText(policy.deny, "none")],
              [
                "Budget",
                <span key="budget" data-testid="policy-budget">
                  {policy.maxEnrollments === null
                    ? "no limit"
                    : `at most ${policy.maxEnrollments.toLocaleString("en")} enrollments per bootstrapping certificate`}
                  {policy.enrollUntil ? `, until ${utc(policy.enrollUntil)}` : ""}
                </span>,
              ],
              [
                "Enrollment rate limit",
                <span key="rate" data-testid="policy-rate">
                  {enrollRateText(policy.enrollRate)}
                </span>,
              ],
              ["One-time device secret", policy.requireDeviceSecret ? "required" : "not required (checked when one is registered)"],
              [
                "Quarantined bootstrapping certificates",
                policy.quarantinedBootstrapCertificates ? (
                  <Link key="q" href="/bootstrap" className="text-blue-700 underline dark:text-blue-400">
                    {policy.quarantinedBootstrapCertificates}
                  </Link>
                ) : (
                  "none"
                ),
              ],
              ["Last changed", utc(policy.updatedAt)],
            ]}
          />
        </div>
        {admin && (
          <div className={BOX}>
            <h3 className="mb-3 font-semibold">Change the policy</h3>
            <PolicyForm maxListBytes={LIST_MAX_BYTES} current={policy} />
          </div>
        )}
      </section>

      <section aria-labelledby="secrets" className={SECTION}>
        <h2 id="secrets" className="text-lg font-semibold">
          One-time device secrets
        </h2>
        <Table caption="One-time device secrets" head={["Device id", "Registered", "Status"]}>
          {secrets.rows.map((s) => (
            <tr key={s.deviceId} data-testid="secret-row">
              <td className={`${TD} font-mono text-xs`}>{s.deviceId}</td>
              <td className={`${TD} tabular-nums`}>{date(s.createdAt)}</td>
              <td className={TD}>
                <Badge tone={s.usedAt ? "slate" : "green"}>{s.usedAt ? "used" : "unused"}</Badge>
                {s.usedAt && <span className="ml-2 text-xs tabular-nums">{utc(s.usedAt)}</span>}
              </td>
            </tr>
          ))}
          {secrets.rows.length === 0 && (
            <tr>
              <td className={TD} colSpan={3}>
                {secrets.page > 1 ? "No secrets on this page." : "No device secrets registered."}
              </td>
            </tr>
          )}
        </Table>
        <Pager
          label="Device secrets"
          page={secrets.page}
          pages={secrets.pages}
          total={secrets.total}
          href={(p) => `/enrollment?secrets=${p}#secrets`}
        />
        {admin && (
          <div className={BOX}>
            <h3 className="mb-3 font-semibold">Register a device secret</h3>
            <DeviceSecretForm />
          </div>
        )}
      </section>

      <section aria-labelledby="groups" className={SECTION}>
        <h2 id="groups" className="text-lg font-semibold">
          Enrollment groups
        </h2>
        <Table
          caption="Enrollment groups"
          head={["Name", "Manufacturer CA", "UID of its devices", "Created", "Status", ...(admin ? [""] : [])]}
        >
          {groups.map((g) => (
            <tr key={g.id} data-testid="group-row">
              <td className={TD}>{g.name}</td>
              <td className={`${TD} text-xs`}>
                <div>{g.caSubject}</div>
                <div className="font-mono text-slate-600 dark:text-slate-400" title="SHA-256 of the CA certificate">
                  {g.caSha256.slice(0, 16)}…
                </div>
              </td>
              <td className={`${TD} text-xs`}>
                <code>{g.uid}</code>
                {g.email && <div>{g.email}</div>}
              </td>
              <td className={`${TD} tabular-nums`}>{date(g.createdAt)}</td>
              <td className={TD}>
                <Badge tone={g.disabledAt ? "slate" : "green"}>{g.disabledAt ? "disabled" : "active"}</Badge>
              </td>
              {admin && <td className={TD}>{!g.disabledAt && <DisableGroupButton id={g.id} name={g.name} />}</td>}
            </tr>
          ))}
          {groups.length === 0 && (
            <tr>
              <td className={TD} colSpan={admin ? 6 : 5}>
                No enrollment groups.
              </td>
            </tr>
          )}
        </Table>
        {admin && (
          <div className={BOX}>
            <h3 className="mb-3 font-semibold">Add an enrollment group</h3>
            <GroupForm
              users={users.filter((u) => !u.disabledAt).map((u) => ({ uid: u.uid, email: u.email }))}
              code={registrationCode(customerId)}
            />
          </div>
        )}
      </section>
    </>
  );
}
