// Fixed-window rate limits kept in the database (RateLimitBucket), so they hold across app processes.
import { db } from "../../db/client.ts";
import { AppError } from "../../errors.ts";

export class RateLimitedError extends AppError {
  constructor(
    readonly retryAfterSeconds: number,
    message = "Too many requests; retry later.",
  ) {
    super("rate_limited", message, 429);
    this.name = "RateLimitedError";
  }
}

/** Per-client limits of the customer API: [requests, window seconds]. */
export const RATE_LIMITS = {
  token: [60, 60],
  issue: [600, 60],
  batch: [60, 60],
  /** per customer user (UID), whichever of the user's clients calls */
  user: [1200, 60],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * Count one request against `key` in the current fixed window; throws RateLimitedError (429, with the
 * seconds until the window ends) once the window holds more than `limit`. One atomic upsert per call.
 */
export async function hitRateLimit(key: string, limit: number, windowSeconds: number, now = new Date()): Promise<void> {
  const windowMs = windowSeconds * 1000;
  const start = Math.floor(now.getTime() / windowMs) * windowMs;
  const rows = await db().$queryRaw<{ count: number }[]>`
    INSERT INTO "RateLimitBucket" ("key", "windowStart", "count")
    VALUES (${key}, ${new Date(start).toISOString()}::timestamp, 1)
    ON CONFLICT ("key", "windowStart") DO UPDATE SET "count" = "RateLimitBucket"."count" + 1
    RETURNING "count"`;
  // Old windows are useless: prune them now and then, not on every request.
  if (Math.random() < 0.01) {
    await db()
      .rateLimitBucket.deleteMany({ where: { windowStart: { lt: new Date(start - 24 * 3600_000) } } })
      .catch(() => {});
  }
  if (Number(rows[0]?.count ?? 0) > limit) throw new RateLimitedError(Math.max(1, Math.ceil((start + windowMs - now.getTime()) / 1000)));
}

/** A named limit of RATE_LIMITS for one client id (or, for "user", one UID). */
export function limitClient(kind: keyof typeof RATE_LIMITS, clientId: string): Promise<void> {
  const [limit, window] = RATE_LIMITS[kind];
  return hitRateLimit(`${kind}:${clientId}`, limit, window);
}
