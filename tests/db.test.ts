import { describe, expect, it } from "vitest";
import { dbLabel, testDb, unique } from "./db.ts";

const db = testDb();

describe(`database (${dbLabel()})`, () => {
  it("applies migrations and round-trips a customer", async () => {
    const name = unique("customer");
    const c = await db.customer.create({ data: { name } });
    expect((await db.customer.findUniqueOrThrow({ where: { id: c.id } })).name).toBe(name);
  });

  it("enforces unique constraints (nonce replay defence)", async () => {
    const nonce = unique("n");
    await db.nonce.create({ data: { scope: "k", nonce } });
    await expect(db.nonce.create({ data: { scope: "k", nonce } })).rejects.toThrow();
  });

  it("omits secret columns by default", async () => {
    const u = await db.user.create({ data: { uid: unique("uid"), email: `${unique()}@x.test`, role: "STAFF", passwordHash: "h" } });
    expect(u).not.toHaveProperty("passwordHash");
  });
});

describe(`time (${dbLabel()})`, () => {
  it("sessions run in UTC, so now() defaults agree with the UTC timestamps the application writes", async () => {
    const [{ tz }] = await db.$queryRaw<{ tz: string }[]>`SELECT current_setting('TimeZone') AS tz`;
    expect(["UTC", "Etc/UTC", "GMT"]).toContain(tz);
    const [{ skew }] = await db.$queryRaw<{ skew: number }[]>`
      SELECT abs(extract(epoch from (now()::timestamp - ${new Date().toISOString()}::timestamp)))::float8 AS skew`;
    expect(skew).toBeLessThan(60);
  });
});
