// Rows that are only useful for a while, deleted by the hourly scheduled check (server/scheduler.ts) in every app
// process, a batch at a time, instead of by a chance delete on the request path: rate-limit windows (a day after
// they closed; the longest window is an hour), spent payload nonces (a day; SPEC §4 asks 600 s) and the stored
// answers of manufacturing batches (IDEMPOTENCY_DAYS: a factory retries within minutes; a batch's answer holds up
// to 1,000 certificates).
import { db } from "../../db/client.ts";

const DAY = 86_400_000;
export const IDEMPOTENCY_DAYS = 7;
/** Rows one statement deletes: short transactions, so writers of the same tables barely wait. */
const BATCH = 5_000;

export type Pruned = { rateLimitBuckets: number; nonces: number; idempotencyRecords: number };

export async function pruneExpiredRows(now = new Date()): Promise<Pruned> {
  const dayAgo = new Date(now.getTime() - DAY);
  const idempotencyCutoff = new Date(now.getTime() - IDEMPOTENCY_DAYS * DAY);
  return {
    // each statement finds its rows by an index (RateLimitBucket.windowStart, Nonce.createdAt, IdempotencyRecord.createdAt)
    rateLimitBuckets: await inBatches(
      () => db().$executeRaw`
        DELETE FROM "RateLimitBucket" WHERE ctid = ANY(ARRAY(
          SELECT ctid FROM "RateLimitBucket" WHERE "windowStart" < ${dayAgo} LIMIT ${BATCH}))`,
    ),
    nonces: await inBatches(
      () => db().$executeRaw`
        DELETE FROM "Nonce" WHERE ctid = ANY(ARRAY(SELECT ctid FROM "Nonce" WHERE "createdAt" < ${dayAgo} LIMIT ${BATCH}))`,
    ),
    idempotencyRecords: await inBatches(
      () => db().$executeRaw`
        DELETE FROM "IdempotencyRecord" WHERE ctid = ANY(ARRAY(
          SELECT ctid FROM "IdempotencyRecord" WHERE "createdAt" < ${idempotencyCutoff} LIMIT ${BATCH}))`,
    ),
  };
}

async function inBatches(deleteBatch: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await deleteBatch();
    total += n;
    if (n < BATCH) return total;
  }
}
