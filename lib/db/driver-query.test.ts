// driverQuery reads timestamps through epochMs: the instant Prisma wrote comes back unchanged whatever the
// process's time zone (pg and PGlite both parse `timestamp` text in the local zone). Runs on PGlite and
// PostgreSQL.
import { afterAll, describe, expect, it } from "vitest";
import { dbLabel, testDb, unique } from "../../tests/db.ts";
import { dateOf, driverQuery, epochMs } from "./client.ts";

const db = testDb();
const zone = process.env.TZ;
afterAll(() => {
  if (zone === undefined) delete process.env.TZ;
  else process.env.TZ = zone;
});

describe(`driverQuery timestamps (${dbLabel()})`, () => {
  it("reads back the instant Prisma wrote, in a process far from UTC", async () => {
    const at = new Date("2026-03-08T06:30:15.123Z"); // the hour New York changes to daylight time
    const row = await db.auditEvent.create({
      data: { at, actorType: "system", actorId: unique("tz"), action: "test.timestamp", outcome: "success", details: {} },
      select: { id: true },
    });
    process.env.TZ = "America/New_York";
    expect(new Date(2026, 0, 1).getTimezoneOffset()).toBe(300); // the zone took effect
    const plain = await driverQuery<{ at: Date }>(`SELECT "at" FROM "AuditEvent" WHERE id = $1::bigint`, [String(row.id)]);
    const [read] = await driverQuery<{ at: number | null; none: number | null }>(
      `SELECT ${epochMs('"at"')} AS "at", ${epochMs("NULL::timestamp")} AS "none" FROM "AuditEvent" WHERE id = $1::bigint`,
      [String(row.id)],
    );
    expect(dateOf(read.at)?.toISOString()).toBe(at.toISOString());
    expect(dateOf(read.none)).toBeNull();
    // what epochMs is for: the driver's own parse of the same column is off by the zone's offset
    expect(plain[0].at.getTime()).not.toBe(at.getTime());
  });
});
