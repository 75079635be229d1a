import "server-only";
import { db } from "../../db/client.ts";

/** id → name of every customer (staff views label rows with it). */
export async function customerNames(): Promise<Record<string, string>> {
  const rows = await db().customer.findMany({ select: { id: true, name: true } });
  return Object.fromEntries(rows.map((c) => [c.id, c.name]));
}
