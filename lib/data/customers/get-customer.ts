import "server-only";
import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { isUuid } from "../../validations/common.ts";

/** One customer with its users (no secrets) and device count; 404 when it does not exist. */
export async function getCustomer(id: string) {
  if (!isUuid(id)) throw new AppError("customer_not_found", "No such customer.", 404);
  const customer = await db().customer.findUnique({
    where: { id },
    select: {
      id: true,
      name: true,
      createdAt: true,
      users: { orderBy: { createdAt: "asc" }, select: { id: true, uid: true, email: true, role: true, disabledAt: true } },
      _count: { select: { devices: true } },
    },
  });
  if (!customer) throw new AppError("customer_not_found", "No such customer.", 404);
  return customer;
}
