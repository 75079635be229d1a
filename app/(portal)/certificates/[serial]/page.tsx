import Link from "next/link";
import { notFound } from "next/navigation";
import { RevokeCertificateForm } from "@/components/certificates/revoke-certificate-form.tsx";
import { PageHeader } from "@/components/layout/page-header.tsx";
import { Badge } from "@/components/ui/badge.tsx";
import { Fields } from "@/components/ui/dl.tsx";
import { requireUser } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { certificateDetail } from "@/lib/data/certificates/certificate-detail.ts";
import { isAppError } from "@/lib/errors.ts";
import { REASON_OPTIONS } from "@/lib/validations/revocation.ts";

// A page's params reach it URL-encoded (Next encodes them again for the page; a route handler's are decoded):
// decoded here, and a malformed escape (a literal "%E0" in a serial) is a serial we do not have.
async function load(serial: string, customerId: string | null) {
  try {
    return await certificateDetail(decodeURIComponent(serial), customerId);
  } catch (e) {
    if (isAppError(e) || e instanceof URIError || (e as { code?: string }).code === "serial_invalid") notFound();
    throw e;
  }
}

export default async function CertificatePage({ params }: { params: Promise<{ serial: string }> }) {
  const user = await requireUser();
  const { serial } = await params;
  const cert = await load(serial, tenantOf(user));
  const canRevoke = user.role === "STAFF" || user.role === "CUSTOMER_ADMIN";
  const link = "text-blue-700 underline dark:text-blue-400";
  return (
    <>
      <PageHeader title={`Certificate ${cert.serial}`}>
        {cert.kind.toLowerCase().replace("_", " ")} ·{" "}
        <span data-testid="cert-status">
          <Badge>{cert.status}</Badge>
        </span>
      </PageHeader>
      <section aria-labelledby="fields" className="mb-8">
        <h2 id="fields" className="mb-3 text-lg font-semibold">
          Decoded fields
        </h2>
        <Fields
          items={[
            ["Subject", cert.subjectDn],
            [
              "Subject alternative names",
              cert.san.length ? (
                <ul key="san">
                  {cert.san.map((n) => (
                    <li key={`${n.type}:${n.value}`}>
                      <span className="text-slate-600 dark:text-slate-400">{n.type}:</span> <span className="font-mono">{n.value}</span>
                    </li>
                  ))}
                </ul>
              ) : (
                "—"
              ),
            ],
            [
              "SAN UID",
              <span key="uid" className="font-mono">
                {cert.uid ?? "—"}
              </span>,
            ],
            [
              "Device",
              cert.deviceRef ? (
                <Link key="d" href={`/devices/${cert.deviceRef}`} className={link}>
                  {cert.deviceId}
                </Link>
              ) : (
                "—"
              ),
            ],
            [
              "Serial",
              <span key="s" className="font-mono">
                {cert.serial}
              </span>,
            ],
            ["Issuer", cert.issuerDn],
            ["Valid from", cert.notBefore],
            ["Valid until", cert.notAfter],
            ["Extended key usage", cert.eku.join(", ") || "—"],
            ["Public key", cert.publicKey],
            ["Signature", cert.signatureAlgorithm],
            [
              "SHA-256 fingerprint",
              <span key="f" className="font-mono text-xs">
                {cert.sha256}
              </span>,
            ],
            [
              "SHA-1 fingerprint",
              <span key="f1" className="font-mono text-xs">
                {cert.sha1}
              </span>,
            ],
            ["Profile", cert.profile],
            ...(cert.revokedAt
              ? ([["Revoked", `${cert.revokedAt} (${cert.revocationReason ?? "unspecified"})`]] as [string, string][])
              : []),
          ]}
        />
        <div className="mt-4 flex gap-4 text-sm">
          <a href={`/certificates/${cert.serial}/pem`} className={link} download>
            Download PEM
          </a>
          <a href={`/certificates/${cert.serial}/pem?chain=1`} className={link} download>
            Download PEM with chain
          </a>
        </div>
      </section>
      <section aria-labelledby="chain" className="mb-8">
        <h2 id="chain" className="mb-3 text-lg font-semibold">
          Chain
        </h2>
        <ol className="space-y-1 text-sm">
          {cert.chain.map((ca, i) => (
            <li key={ca.id} style={{ paddingLeft: `${i * 1}rem` }}>
              ↑ {ca.subject} <Badge>{ca.status}</Badge>
            </li>
          ))}
        </ol>
      </section>
      {canRevoke && (
        <section aria-labelledby="revoke" className="rounded-lg border border-red-200 p-4 dark:border-red-900">
          <h2 id="revoke" className="mb-3 text-lg font-semibold">
            Revoke
          </h2>
          <RevokeCertificateForm serial={cert.serial} reasons={REASON_OPTIONS} revoked={cert.status === "revoked"} />
        </section>
      )}
    </>
  );
}
