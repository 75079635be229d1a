// The hot functions behind driverQuery return timestamps as epoch milliseconds: the instant Prisma wrote
// comes back unchanged whatever the process's time zone (pg and PGlite both parse `timestamp` text in the
// local zone). Runs on PGlite and PostgreSQL.
import { afterAll, describe, expect, it } from "vitest";
import { dbLabel, testDb, unique } from "../../tests/db.ts";
import { ensureHierarchy } from "../data/ca/hierarchy.ts";
import { issueAndStore } from "../data/certificates/issue-certificate.ts";
import { createCustomer } from "../data/customers/create-customer.ts";
import { createCsr } from "../pki/csr.ts";
import { newPrivateKey } from "../pki/keygen.ts";
import { dateOf, driverQuery } from "./client.ts";

const db = testDb();
const system = { type: "system", id: "test" } as const;
const zone = process.env.TZ;
afterAll(() => {
  if (zone === undefined) delete process.env.TZ;
  else process.env.TZ = zone;
});

describe(`driverQuery timestamps (${dbLabel()})`, () => {
  it("device_auth_rows reads back the instant Prisma wrote, in a process far from UTC", async () => {
    await ensureHierarchy(system);
    const c = await createCustomer(
      { name: unique("Zone").replace(/-/g, " "), adminEmail: `${unique()}@zone.test`, adminPassword: "a-long-password-1" },
      system,
    );
    const cert = await issueAndStore({
      profile: "bootstrap",
      csr: createCsr({ key: newPrivateKey() }),
      customerId: c.customer.id,
      uid: c.user.uid,
      actor: system,
    });
    const at = new Date("2026-03-08T06:30:15.123Z"); // the hour New York changes to daylight time
    await db.certificate.update({ where: { id: cert.id }, data: { revokedAt: at, revocationReason: "keyCompromise" } });

    process.env.TZ = "America/New_York";
    expect(new Date(2026, 0, 1).getTimezoneOffset()).toBe(300); // the zone took effect
    const [row] = await driverQuery<{ revokedAt: number | null; firstUsedAt: number | null }>(
      "SELECT * FROM device_auth_rows($1::text[])",
      [[cert.serialHex]],
    );
    expect(dateOf(row.revokedAt)?.toISOString()).toBe(at.toISOString());
    expect(dateOf(row.firstUsedAt)).toBeNull();
    // why epoch milliseconds: the driver's own parse of the same column is off by the zone's offset
    const [plain] = await driverQuery<{ revokedAt: Date }>(`SELECT "revokedAt" FROM "Certificate" WHERE id = $1::uuid`, [cert.id]);
    expect(plain.revokedAt.getTime()).not.toBe(at.getTime());
  });
});

describe.runIf(dbLabel() === "postgres")("driverQuery on a PostgreSQL server", () => {
  it("prepares each statement once per connection and runs it again by name", async () => {
    const sql = "SELECT $1::int + 1 AS n";
    expect((await driverQuery<{ n: number }>(sql, [1]))[0].n).toBe(2);
    expect((await driverQuery<{ n: number }>(sql, [41]))[0].n).toBe(42);
    // pg's pool hands the most recently released connection out again: the one that prepared the statement
    const prepared = await driverQuery<{ name: string }>("SELECT name FROM pg_prepared_statements WHERE statement = $1", [sql]);
    expect(prepared).toEqual([{ name: expect.stringMatching(/^pss_hot_\d+$/) }]);
  });
});
