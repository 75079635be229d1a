import "server-only";
import { db } from "../../db/client.ts";

export type CustomerRow = {
  id: string;
  name: string;
  createdAt: string;
  adminEmail: string | null;
  devices: number;
  /** the customer's TLS issuing CA: the newest generation's state and number */
  issuingCa: { status: string; generation: number } | null;
};

/** Staff: every customer with its first admin, device count and issuing-CA state, newest first. */
export async function listCustomers(): Promise<CustomerRow[]> {
  const rows = await db().customer.findMany({
    orderBy: { createdAt: "desc" },
    select: {
      id: true,
      name: true,
      createdAt: true,
      users: { where: { role: "CUSTOMER_ADMIN" }, orderBy: { createdAt: "asc" }, take: 1, select: { email: true } },
      cas: {
        where: { kind: "CUSTOMER_TLS_ISSUING" },
        orderBy: { generation: "desc" },
        take: 1,
        select: { status: true, generation: true },
      },
      _count: { select: { devices: true } },
    },
  });
  return rows.map((c) => ({
    id: c.id,
    name: c.name,
    createdAt: c.createdAt.toISOString(),
    adminEmail: c.users[0]?.email ?? null,
    devices: c._count.devices,
    issuingCa: c.cas[0] ?? null,
  }));
}
