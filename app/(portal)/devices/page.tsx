import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireRole } from "@/lib/auth/session.ts";

export default async function Page() {
  await requireRole(...rolesFor("/devices"));
  return <PageHeader title="Device fleet">Devices by SAN UID, device id or serial.</PageHeader>;
}
