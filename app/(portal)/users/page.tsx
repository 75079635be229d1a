import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { Badge } from "@/components/ui/badge.tsx";
import { date, Table, TD } from "@/components/ui/table.tsx";
import { AddUserForm } from "@/components/users/add-user-form.tsx";
import { DisableClientButton, NewClientButton, RotateSecretButton } from "@/components/users/client-buttons.tsx";
import { requireRole } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { listCustomerUsers } from "@/lib/data/clients/manage-clients.ts";

export const dynamic = "force-dynamic";

export default async function UsersPage() {
  const me = await requireRole(...rolesFor("/users"));
  const users = await listCustomerUsers(tenantOf(me)!);
  const admin = me.role === "CUSTOMER_ADMIN";
  // a new secret of an admin's API identity goes to that admin only (lib/data/clients/manage-clients.ts)
  const mintsSecrets = (u: { id: string; role: string }) => admin && (u.role !== "CUSTOMER_ADMIN" || u.id === me.id);
  return (
    <>
      <PageHeader title="Users and API clients">
        Each user has a UID that every certificate issued for them carries, and API clients (client id + secret) for the customer API.
      </PageHeader>
      <Table caption="Users and their API clients" head={["User", "Role", "UID", "API clients"]}>
        {users.map((u) => (
          <tr key={u.id}>
            <td className={TD}>
              {u.email}
              {u.disabledAt && (
                <span className="ml-2">
                  <Badge tone="red">disabled</Badge>
                </span>
              )}
            </td>
            <td className={TD}>{u.role === "CUSTOMER_ADMIN" ? "admin" : "viewer"}</td>
            <td className={TD}>
              <code className="text-xs">{u.uid}</code>
            </td>
            <td className={TD}>
              <ul className="space-y-3">
                {u.clients.map((c) => (
                  <li key={c.clientId} className="space-y-1">
                    <code className="text-xs">{c.clientId}</code> <Badge>{c.disabledAt ? "disabled" : "active"}</Badge>
                    <div className="text-xs text-slate-600 dark:text-slate-400">
                      created {date(c.createdAt)} · last used {date(c.lastUsedAt)}
                    </div>
                    {admin && !c.disabledAt && (
                      <div className="flex flex-wrap gap-2">
                        {mintsSecrets(u) && <RotateSecretButton clientId={c.clientId} />}
                        <DisableClientButton clientId={c.clientId} />
                      </div>
                    )}
                  </li>
                ))}
              </ul>
              {mintsSecrets(u) && !u.disabledAt && (
                <div className="mt-2">
                  <NewClientButton uid={u.uid} />
                </div>
              )}
            </td>
          </tr>
        ))}
      </Table>
      {admin && (
        <div className="mt-8">
          <AddUserForm />
        </div>
      )}
    </>
  );
}
