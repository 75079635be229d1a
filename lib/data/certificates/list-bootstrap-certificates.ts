// The customer's bootstrapping certificates for the portal (SPEC §5, §8): status (quarantine included), the
// enrollment budget — devices enrolled with each (Device.enrolledById) against its policy, falling back to the
// customer-wide policy's budget — and the enrollment rate limit, as the device listener applies them.
import "server-only";
import { db } from "../../db/client.ts";
import { BOOTSTRAP_MAX_PAGE_SIZE, BOOTSTRAP_PAGE_SIZE } from "../../validations/bootstrap.ts";
import { type EnrollRate, effectiveEnrollRate } from "../enrollment/policy.ts";

export type BootstrapStatus = "active" | "quarantined" | "revoked" | "expired";

export type BootstrapRow = {
  serial: string;
  subject: string;
  uid: string | null;
  createdAt: string;
  notAfter: string;
  status: BootstrapStatus;
  quarantineReason: string | null;
  enrolled: number;
  /** null: no budget */
  maxEnrollments: number | null;
  enrollUntil: string | null;
  allowDeviceIds: number;
  enrollRate: EnrollRate;
  revokedAt: string | null;
};

export type BootstrapPage = { rows: BootstrapRow[]; total: number; page: number; pages: number; size: number };

/**
 * One page of a customer's bootstrapping certificates (the caller's tenant, never the client's word), newest
 * first, with the total: offset paging, as a customer holds a few hundred of them at most.
 */
export async function listBootstrapCertificates(
  customerId: string,
  opts: { page?: number; size?: number } = {},
  now = new Date(),
): Promise<BootstrapPage> {
  const size = Math.min(Math.max(Math.trunc(opts.size ?? BOOTSTRAP_PAGE_SIZE), 1), BOOTSTRAP_MAX_PAGE_SIZE);
  const page = Math.max(Math.trunc(opts.page ?? 1), 1);
  const where = { customerId, kind: "BOOTSTRAP" } as const;
  const [certs, total] = await Promise.all([
    db().certificate.findMany({
      where,
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      skip: (page - 1) * size,
      take: size,
      select: {
        id: true,
        serial: true,
        subject: true,
        uid: true,
        createdAt: true,
        notAfter: true,
        revokedAt: true,
        quarantinedAt: true,
        quarantineReason: true,
      },
    }),
    db().certificate.count({ where }),
  ]);
  const ids = certs.map((c) => c.id);
  const [policies, counts] = await Promise.all([
    db().enrollmentPolicy.findMany({
      where: { customerId, OR: [{ bootstrapCertId: null }, { bootstrapCertId: { in: ids } }] },
      select: { bootstrapCertId: true, maxEnrollments: true, enrollUntil: true, allowDeviceIds: true, enrollRatePerMinute: true },
    }),
    ids.length
      ? db().device.groupBy({ by: ["enrolledById"], where: { customerId, enrolledById: { in: ids } }, _count: { _all: true } })
      : Promise.resolve([]),
  ]);
  const customerWide = policies.find((p) => p.bootstrapCertId === null);
  const own = new Map(policies.flatMap((p) => (p.bootstrapCertId ? [[p.bootstrapCertId, p] as const] : [])));
  const enrolled = new Map(counts.map((c) => [c.enrolledById, c._count._all]));
  const rows = certs.map((c): BootstrapRow => {
    const p = own.get(c.id);
    const status: BootstrapStatus = c.revokedAt ? "revoked" : c.notAfter <= now ? "expired" : c.quarantinedAt ? "quarantined" : "active";
    const enrollUntil = p?.enrollUntil ?? customerWide?.enrollUntil ?? null;
    return {
      serial: c.serial,
      subject: c.subject,
      uid: c.uid,
      createdAt: c.createdAt.toISOString(),
      notAfter: c.notAfter.toISOString(),
      status,
      quarantineReason: c.quarantineReason,
      enrolled: enrolled.get(c.id) ?? 0,
      maxEnrollments: p?.maxEnrollments ?? customerWide?.maxEnrollments ?? null,
      enrollUntil: enrollUntil?.toISOString() ?? null,
      allowDeviceIds: p?.allowDeviceIds.length ?? 0,
      enrollRate: effectiveEnrollRate(customerWide?.enrollRatePerMinute, p?.enrollRatePerMinute),
      revokedAt: c.revokedAt?.toISOString() ?? null,
    };
  });
  return { rows, total, page, pages: Math.max(Math.ceil(total / size), 1), size };
}
