import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireRole } from "@/lib/auth/session.ts";

export default async function Page() {
  await requireRole(...rolesFor("/ca"));
  return <PageHeader title="CA hierarchy">Every CA generation, its state and rotation.</PageHeader>;
}
