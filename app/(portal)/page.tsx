import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireUser } from "@/lib/auth/session.ts";

export default async function OverviewPage() {
  const user = await requireUser();
  return <PageHeader title="Overview">Signed in as {user.email}.</PageHeader>;
}
