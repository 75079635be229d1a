import { OnboardForm } from "@/components/customers/onboard-form.tsx";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireRole } from "@/lib/auth/session.ts";

export default async function NewCustomerPage() {
  await requireRole("STAFF");
  return (
    <>
      <PageHeader title="Onboard a customer">
        Creates the customer, its TLS issuing CA and Application CAs, the first admin and an API client.
      </PageHeader>
      <OnboardForm />
    </>
  );
}
