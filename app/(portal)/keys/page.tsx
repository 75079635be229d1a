import { DisableKeyButton } from "@/components/keys/disable-key-button.tsx";
import { RegisterKeyForm } from "@/components/keys/register-key-form.tsx";
import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { Badge } from "@/components/ui/badge.tsx";
import { date, Table, TD } from "@/components/ui/table.tsx";
import { requireRole } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { listSigningKeys } from "@/lib/data/signing-keys/list-signing-keys.ts";

export default async function Page() {
  const user = await requireRole(...rolesFor("/keys"));
  const customerId = tenantOf(user);
  if (!customerId) return null; // staff never reach here (rolesFor), tenantOf refuses a customer user without one
  const { keys } = await listSigningKeys({
    user: { id: user.id, uid: user.uid, role: user.role === "CUSTOMER_ADMIN" ? "CUSTOMER_ADMIN" : "CUSTOMER_VIEWER" },
    customerId,
  });
  const admin = user.role === "CUSTOMER_ADMIN";
  return (
    <>
      <PageHeader title="Payload-signing keys">
        Your keys that sign requests to the customer API (bootstrapping certificates, manufacturing batches).
      </PageHeader>
      <section aria-labelledby="your-keys" className="mb-8">
        <h2 id="your-keys" className="mb-3 text-lg font-semibold">
          Your keys
        </h2>
        <Table caption="Your payload-signing keys" head={["Key id (kid)", "Algorithm", "Created", "Status", ...(admin ? [""] : [])]}>
          {keys.map((k) => (
            <tr key={k.kid} data-testid="key-row">
              <td className={`${TD} font-mono text-xs`}>{k.kid}</td>
              <td className={TD}>{k.alg}</td>
              <td className={`${TD} tabular-nums`}>{date(k.createdAt)}</td>
              <td className={TD}>
                <Badge tone={k.disabledAt ? "slate" : "green"}>{k.disabledAt ? "disabled" : "active"}</Badge>
              </td>
              {admin && <td className={TD}>{!k.disabledAt && <DisableKeyButton kid={k.kid} />}</td>}
            </tr>
          ))}
          {keys.length === 0 && (
            <tr>
              <td className={TD} colSpan={admin ? 5 : 4}>
                No keys yet.
              </td>
            </tr>
          )}
        </Table>
      </section>
      {admin && (
        <section aria-labelledby="register" className="rounded-lg border border-slate-200 p-4 dark:border-slate-800">
          <h2 id="register" className="mb-3 text-lg font-semibold">
            Register a key
          </h2>
          <RegisterKeyForm />
        </section>
      )}
    </>
  );
}
