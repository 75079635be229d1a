import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireRole } from "@/lib/auth/session.ts";

export default async function Page() {
  await requireRole(...rolesFor("/bootstrap"));
  return <PageHeader title="Bootstrapping certificates">Certificates that let devices enroll over mTLS.</PageHeader>;
}
