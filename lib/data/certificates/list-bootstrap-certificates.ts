// The customer's bootstrapping certificates for the portal (SPEC §5, §8): status (quarantine included) and the
// enrollment budget — devices enrolled with each (Device.enrolledById) against its policy, falling back to the
// customer-wide policy's budget, as the device listener applies them.
import "server-only";
import { db } from "../../db/client.ts";

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
};

export const BOOTSTRAP_LIST_LIMIT = 200;

/** The newest bootstrapping certificates of one customer (the caller's tenant, never the client's word). */
export async function listBootstrapCertificates(customerId: string, now = new Date()): Promise<BootstrapRow[]> {
  const certs = await db().certificate.findMany({
    where: { customerId, kind: "BOOTSTRAP" },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: BOOTSTRAP_LIST_LIMIT,
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
  });
  const ids = certs.map((c) => c.id);
  const [policies, counts] = await Promise.all([
    db().enrollmentPolicy.findMany({
      where: { customerId, OR: [{ bootstrapCertId: null }, { bootstrapCertId: { in: ids } }] },
      select: { bootstrapCertId: true, maxEnrollments: true, enrollUntil: true, allowDeviceIds: true },
    }),
    ids.length
      ? db().device.groupBy({ by: ["enrolledById"], where: { customerId, enrolledById: { in: ids } }, _count: { _all: true } })
      : Promise.resolve([]),
  ]);
  const customerWide = policies.find((p) => p.bootstrapCertId === null);
  const own = new Map(policies.flatMap((p) => (p.bootstrapCertId ? [[p.bootstrapCertId, p] as const] : [])));
  const enrolled = new Map(counts.map((c) => [c.enrolledById, c._count._all]));
  return certs.map((c) => {
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
    };
  });
}
