import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireRole } from "@/lib/auth/session.ts";

export default async function Page() {
  await requireRole(...rolesFor("/audit"));
  return <PageHeader title="Audit log">Every issuance, revocation and refusal that matters.</PageHeader>;
}
