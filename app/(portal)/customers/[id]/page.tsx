import Link from "next/link";
import { notFound } from "next/navigation";
import { CaTable } from "@/components/ca/ca-table.tsx";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { date, Table, TD } from "@/components/ui/table.tsx";
import { ROLE_LABEL, requireRole } from "@/lib/auth/session.ts";
import { listCas } from "@/lib/data/ca/list-cas.ts";
import { getCustomer } from "@/lib/data/customers/get-customer.ts";
import { isAppError } from "@/lib/errors.ts";

async function load(id: string) {
  try {
    return await getCustomer(id);
  } catch (e) {
    if (isAppError(e) && e.status === 404) notFound();
    throw e;
  }
}

export default async function CustomerPage({ params }: { params: Promise<{ id: string }> }) {
  await requireRole("STAFF");
  const { id } = await params;
  const customer = await load(id);
  const cas = await listCas({ customerId: customer.id });
  return (
    <>
      <PageHeader title={customer.name}>
        Onboarded {date(customer.createdAt)} ·{" "}
        <Link href={`/devices?customer=${customer.id}`} className="text-blue-700 underline dark:text-blue-400">
          {customer._count.devices.toLocaleString("en")} devices
        </Link>
      </PageHeader>
      <h2 className="mb-2 text-lg font-semibold">Certificate authorities</h2>
      <CaTable cas={cas} actions customerNames={{ [customer.id]: customer.name }} />
      <h2 className="mt-8 mb-2 text-lg font-semibold">Users</h2>
      <Table caption="Users" head={["Email", "Role", "UID", "State"]}>
        {customer.users.map((u) => (
          <tr key={u.id}>
            <td className={TD}>{u.email}</td>
            <td className={TD}>{ROLE_LABEL[u.role]}</td>
            <td className={`${TD} font-mono text-xs`}>{u.uid}</td>
            <td className={TD}>{u.disabledAt ? "disabled" : "enabled"}</td>
          </tr>
        ))}
      </Table>
    </>
  );
}
