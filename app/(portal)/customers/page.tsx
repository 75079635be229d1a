import Link from "next/link";
import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { Badge } from "@/components/ui/badge.tsx";
import { date, Table, TD } from "@/components/ui/table.tsx";
import { requireRole } from "@/lib/auth/session.ts";
import { listCustomers } from "@/lib/data/customers/list-customers.ts";

export default async function CustomersPage() {
  await requireRole(...rolesFor("/customers"));
  const customers = await listCustomers();
  return (
    <>
      <div className="flex items-start justify-between">
        <PageHeader title="Customers">Every customer, its first admin, fleet size and issuing CA.</PageHeader>
        <Link
          href="/customers/new"
          className="rounded-md bg-blue-700 px-4 py-2 text-sm font-medium text-white hover:bg-blue-800 dark:bg-blue-600"
        >
          Onboard a customer
        </Link>
      </div>
      <Table caption="Customers" head={["Name", "Created", "Admin", "Devices", "TLS issuing CA"]}>
        {customers.map((c) => (
          <tr key={c.id}>
            <td className={TD}>
              <Link href={`/customers/${c.id}`} className="text-blue-700 underline dark:text-blue-400">
                {c.name}
              </Link>
            </td>
            <td className={TD}>{date(c.createdAt)}</td>
            <td className={TD}>{c.adminEmail ?? "—"}</td>
            <td className={`${TD} tabular-nums`}>{c.devices.toLocaleString("en")}</td>
            <td className={TD}>
              {c.issuingCa ? <Badge>{c.issuingCa.status}</Badge> : "—"} {c.issuingCa && `G${c.issuingCa.generation}`}
            </td>
          </tr>
        ))}
        {customers.length === 0 && (
          <tr>
            <td className={TD} colSpan={5}>
              No customers yet.
            </td>
          </tr>
        )}
      </Table>
    </>
  );
}
