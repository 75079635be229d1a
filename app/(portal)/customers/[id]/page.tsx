import Link from "next/link";
import { notFound } from "next/navigation";
import { CaTable } from "@/components/ca/ca-table.tsx";
import { ImportExternalCaForm, RequestExternalCaForm } from "@/components/ca/external-ca-forms.tsx";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { date, Table, TD } from "@/components/ui/table.tsx";
import { ROLE_LABEL, requireRole } from "@/lib/auth/session.ts";
import { listExternalCas, listPendingCas } from "@/lib/data/ca/external-ca.ts";
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
  const [cas, pendingCas, externalCas] = await Promise.all([
    listCas({ customerId: customer.id }),
    listPendingCas(customer.id),
    listExternalCas(customer.id),
  ]);
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
      <section aria-labelledby="external-ca" className="mt-6 space-y-3">
        <h3 id="external-ca" className="font-semibold">
          C2PA CA under the customer&apos;s own root
        </h3>
        <p className="max-w-3xl text-sm text-slate-700 dark:text-slate-300">
          For certificates that must chain to a root the customer already uses. A new key is made in the key store and never leaves it; the
          customer&apos;s CA signs the CSR below (keeping its CA:TRUE pathlen:0 and keyCertSign, cRLSign extensions), and the signed
          certificate becomes the customer&apos;s active C2PA CA once it checks out.
        </p>
        {externalCas.length > 0 && (
          <ul className="space-y-1 text-sm" aria-label="CAs under the customer's root">
            {externalCas.map((ca) => (
              <li key={ca.id} data-testid="external-ca">
                <span className="font-medium">{ca.subject}</span> ({ca.status.toLowerCase()}, until {date(ca.notAfter)}), under{" "}
                {ca.rootSubject} with SHA-256 <span className="break-all font-mono text-xs">{ca.rootSha256}</span>
              </li>
            ))}
          </ul>
        )}
        {pendingCas.map((p) => (
          <div key={p.id} className="space-y-3 rounded-md border border-slate-300 p-4 dark:border-slate-700" data-testid="pending-ca">
            <p className="text-sm">
              Waiting for the customer&apos;s CA: <span className="font-medium">{p.subject}</span> (requested {date(p.createdAt)})
            </p>
            <pre data-testid="pending-csr" className="overflow-x-auto rounded bg-slate-100 p-2 text-xs dark:bg-slate-900">
              {p.csrPem}
            </pre>
            <ImportExternalCaForm pendingId={p.id} />
          </div>
        ))}
        <RequestExternalCaForm customerId={customer.id} />
      </section>
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
