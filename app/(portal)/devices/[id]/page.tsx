import Link from "next/link";
import { notFound } from "next/navigation";
import { DeviceLifecycleForm } from "@/components/fleet/device-lifecycle-form.tsx";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { Badge } from "@/components/ui/badge.tsx";
import { Fields } from "@/components/ui/dl.tsx";
import { date, Table, TD } from "@/components/ui/table.tsx";
import { requireUser } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { getDevice } from "@/lib/data/fleet/get-device.ts";
import { isAppError } from "@/lib/errors.ts";
import { REASON_OPTIONS } from "@/lib/validations/revocation.ts";

async function load(id: string, customerId: string | null) {
  try {
    return await getDevice(id, customerId);
  } catch (e) {
    if (isAppError(e) && e.status === 404) notFound();
    throw e;
  }
}

export default async function DevicePage({ params }: { params: Promise<{ id: string }> }) {
  const user = await requireUser();
  const { id } = await params;
  const device = await load(id, tenantOf(user));
  const canMutate = user.role === "STAFF" || user.role === "CUSTOMER_ADMIN";
  return (
    <>
      <PageHeader title={`Device ${device.deviceId}`}>
        {device.customer.name} ·{" "}
        <Badge>{device.resetAt ? "reset: awaiting enrollment" : device.status === "ACTIVE" ? "active" : "decommissioned"}</Badge>
      </PageHeader>
      <Fields
        items={[
          [
            "Device id",
            <span key="d" className="font-mono">
              {device.deviceId}
            </span>,
          ],
          ["Enrolled", date(device.enrolledAt)],
          ["Last rotation", date(device.lastRotatedAt)],
          ["Decommissioned", date(device.decommissionedAt)],
          ["Reset", date(device.resetAt)],
        ]}
      />
      <h2 className="mt-8 mb-2 text-lg font-semibold">Certificates</h2>
      <Table caption="Certificates of this device" head={["Serial", "Kind", "Profile", "Valid until", "Status"]}>
        {device.certificates.map((c) => (
          <tr key={c.serial}>
            <td className={TD}>
              <Link href={`/certificates/${c.serial}`} className="font-mono text-xs text-blue-700 underline dark:text-blue-400">
                {c.serial}
              </Link>
            </td>
            <td className={TD}>{c.kind.toLowerCase().replace("_", " ")}</td>
            <td className={TD}>{c.profile}</td>
            <td className={TD}>{date(c.notAfter)}</td>
            <td className={TD}>
              <Badge>{c.status}</Badge>
            </td>
          </tr>
        ))}
      </Table>
      {canMutate && (
        <section aria-labelledby="reset" className="mt-8 rounded-lg border border-slate-200 p-4 dark:border-slate-800">
          <h2 id="reset" className="mb-1 text-lg font-semibold">
            Reset device id
          </h2>
          <p className="mb-3 text-sm text-slate-600 dark:text-slate-400">
            For a device that lost the answer to its enrollment, was re-flashed, or may be cloned: revokes every certificate this device
            holds, and lets its next enrollment re-enroll it, once, with the bootstrapping certificate that enrolled it or the one named
            here. A device that needs a one-time enrollment secret needs a new one.
          </p>
          <DeviceLifecycleForm
            kind="reset"
            deviceRef={device.id}
            reasons={REASON_OPTIONS}
            done={device.resetAt ? "This device id is reset: its next enrollment re-enrolls it." : null}
          />
        </section>
      )}
      {canMutate && (
        <section aria-labelledby="decommission" className="mt-8 rounded-lg border border-red-200 p-4 dark:border-red-900">
          <h2 id="decommission" className="mb-1 text-lg font-semibold">
            Decommission
          </h2>
          <p className="mb-3 text-sm text-slate-600 dark:text-slate-400">Revokes every certificate this device holds, in every PKI.</p>
          <DeviceLifecycleForm
            kind="decommission"
            deviceRef={device.id}
            reasons={REASON_OPTIONS}
            done={device.status !== "ACTIVE" ? "This device is decommissioned." : null}
          />
        </section>
      )}
    </>
  );
}
