import { CaTable } from "@/components/ca/ca-table.tsx";
import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireRole } from "@/lib/auth/session.ts";
import { listCas } from "@/lib/data/ca/list-cas.ts";
import { customerNames } from "@/lib/data/customers/customer-names.ts";

export default async function CaPage() {
  await requireRole(...rolesFor("/ca"));
  const [cas, names] = await Promise.all([listCas(), customerNames()]);
  return (
    <>
      <PageHeader title="CA hierarchy">Every CA generation: active, retired or revoked, with key age, expiry and rotation.</PageHeader>
      <CaTable cas={cas} actions customerNames={names} />
    </>
  );
}
