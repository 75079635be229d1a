import { notFound } from "next/navigation";
import { RevokeCaForm } from "@/components/ca/revoke-ca-form.tsx";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { Badge } from "@/components/ui/badge.tsx";
import { requireRole } from "@/lib/auth/session.ts";
import { customerIssuingCaForRevocation } from "@/lib/data/ca/revoke-customer-issuing-ca.ts";
import { isAppError } from "@/lib/errors.ts";
import { REASON_OPTIONS } from "@/lib/validations/revocation.ts";

async function load(id: string) {
  try {
    return await customerIssuingCaForRevocation(id);
  } catch (e) {
    if (isAppError(e) && e.status === 404) notFound();
    throw e;
  }
}

export default async function RevokeCaPage({ params }: { params: Promise<{ id: string }> }) {
  await requireRole("STAFF");
  const { id } = await params;
  const { ca, customer, blast } = await load(id);
  return (
    <>
      <PageHeader title={`Revoke ${customer.name}'s TLS issuing CA`}>
        {ca.subject} <Badge>{ca.status}</Badge>
      </PageHeader>
      <section
        aria-labelledby="blast"
        className="mb-6 max-w-lg rounded-lg border border-red-300 bg-red-50 p-4 dark:border-red-800 dark:bg-red-950"
      >
        <h2 id="blast" className="font-semibold text-red-900 dark:text-red-200">
          Blast radius
        </h2>
        <p className="mt-1 text-sm">Revoking this CA cuts off at once:</p>
        <dl className="mt-3 grid grid-cols-3 gap-3 text-center" data-testid="blast-radius">
          <div>
            <dt className="text-xs">Devices</dt>
            <dd className="text-2xl font-semibold tabular-nums" data-testid="blast-devices">
              {blast.devices}
            </dd>
          </div>
          <div>
            <dt className="text-xs">Live certificates</dt>
            <dd className="text-2xl font-semibold tabular-nums" data-testid="blast-certificates">
              {blast.certificates}
            </dd>
          </div>
          <div>
            <dt className="text-xs">Bootstrapping certificates</dt>
            <dd className="text-2xl font-semibold tabular-nums">{blast.bootstrapCertificates}</dd>
          </div>
        </dl>
        <p className="mt-3 text-sm">
          A new generation of the issuing CA becomes active so the customer can provision new bootstrapping certificates. The devices it
          cuts off are reset: each enrolls once more, with a bootstrapping certificate issued after the revocation (or, when the
          customer&apos;s are kept, the one that enrolled it).
        </p>
      </section>
      <RevokeCaForm caId={ca.id} customerName={customer.name} reasons={REASON_OPTIONS} revoked={ca.status === "REVOKED"} />
    </>
  );
}
