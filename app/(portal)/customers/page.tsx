import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireRole } from "@/lib/auth/session.ts";

export default async function Page() {
  await requireRole(...rolesFor("/customers"));
  return <PageHeader title="Customers">Onboard customers and see their CA status.</PageHeader>;
}
