// The scheduled prune: closed rate-limit windows and spent nonces older than a day, and manufacturing batch answers
// older than IDEMPOTENCY_DAYS, are deleted (in batches); everything younger stays. Its own database on PostgreSQL
// too: the prune reaches every row of these tables.
import { describe, expect, it } from "vitest";
import { dbLabel, testDb, unique } from "../../../tests/db.ts";
import { ensureHierarchy } from "../ca/hierarchy.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { IDEMPOTENCY_DAYS, pruneExpiredRows } from "./prune.ts";

const db = testDb({ own: true });
const system = { type: "system", id: "test" } as const;
const DAY = 86_400_000;

describe(`pruning expired rows (${dbLabel()})`, () => {
  it("deletes what expired, a batch at a time, and keeps the rest", async () => {
    await ensureHierarchy(system);
    const c = await createCustomer(
      { name: unique("Prune").replace(/-/g, " "), adminEmail: `${unique()}@prune.test`, adminPassword: "a-long-password-1" },
      system,
    );
    const now = new Date();
    const ago = (ms: number) => new Date(now.getTime() - ms);
    // more old windows than one delete statement takes
    const old = Array.from({ length: 5_200 }, (_, i) => ({ key: `old-${i}`, windowStart: ago(2 * DAY), count: 1 }));
    await db.rateLimitBucket.createMany({ data: [...old, { key: "recent", windowStart: ago(3_600_000), count: 3 }] });
    await db.nonce.createMany({
      data: [
        { scope: "k", nonce: "old-nonce-0000001", createdAt: ago(2 * DAY) },
        { scope: "k", nonce: "new-nonce-0000001", createdAt: ago(60_000) },
      ],
    });
    const record = (key: string, createdAt: Date) => ({
      customerId: c.customer.id,
      key,
      requestHash: "h",
      status: 201,
      response: {},
      createdAt,
    });
    await db.idempotencyRecord.createMany({
      data: [record("old-batch", ago((IDEMPOTENCY_DAYS + 1) * DAY)), record("new-batch", ago(DAY))],
    });

    expect(await pruneExpiredRows(now)).toEqual({ rateLimitBuckets: 5_200, nonces: 1, idempotencyRecords: 1 });
    expect((await db.rateLimitBucket.findMany({ select: { key: true } })).map((r) => r.key)).toEqual(["recent"]);
    expect((await db.nonce.findMany({ select: { nonce: true } })).map((r) => r.nonce)).toEqual(["new-nonce-0000001"]);
    expect((await db.idempotencyRecord.findMany({ select: { key: true } })).map((r) => r.key)).toEqual(["new-batch"]);
    expect(await pruneExpiredRows(now)).toEqual({ rateLimitBuckets: 0, nonces: 0, idempotencyRecords: 0 });
  });
});
