import Link from "next/link";
import { notFound } from "next/navigation";
import { PolicyForm } from "@/components/enrollment/policy-form.tsx";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { requireRole } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { customerPolicy } from "@/lib/data/enrollment/manage-policy.ts";
import { isAppError } from "@/lib/errors.ts";
import { LIST_MAX_BYTES } from "@/lib/validations/enrollment.ts";

/** A customer admin edits one bootstrapping certificate's own enrollment policy (SPEC §5). */
export default async function Page({ params }: { params: Promise<{ serial: string }> }) {
  const user = await requireRole("CUSTOMER_ADMIN");
  const customerId = tenantOf(user);
  if (!customerId) notFound();
  const { serial } = await params;
  let policy: Awaited<ReturnType<typeof customerPolicy>>;
  try {
    if (!/^[0-9a-f]{1,40}$/i.test(serial)) notFound();
    policy = await customerPolicy(customerId, 10, serial);
  } catch (e) {
    // another customer's serial, or none: the same answer
    if (isAppError(e) && e.status === 404) notFound();
    throw e;
  }
  const link = "text-blue-700 underline dark:text-blue-400";
  return (
    <>
      <PageHeader title="Bootstrapping certificate policy">
        <span className="font-mono text-xs">{serial}</span>. It applies on top of the{" "}
        <Link href="/enrollment" className={link}>
          customer-wide policy
        </Link>
        : both deny-lists refuse, every non-empty allow-list must name the device, and this certificate&apos;s budget, end date and rate
        limit win over the customer&apos;s. Back to the{" "}
        <Link href="/bootstrap" className={link}>
          bootstrapping certificates
        </Link>
        .
      </PageHeader>
      <PolicyForm maxListBytes={LIST_MAX_BYTES} bootstrapSerial={serial.toLowerCase()} current={policy} />
    </>
  );
}
