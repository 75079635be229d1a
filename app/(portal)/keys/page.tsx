import { rolesFor } from "@/components/layout/nav.ts";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireRole } from "@/lib/auth/session.ts";

export default async function Page() {
  await requireRole(...rolesFor("/keys"));
  return <PageHeader title="Payload-signing keys">Keys that sign requests to the customer API.</PageHeader>;
}
