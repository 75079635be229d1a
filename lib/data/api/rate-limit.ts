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
  /** payload-signing key registrations and disablings: each verifies signatures and writes; people add few keys */
  keys: [30, 60],
  /** per customer user (UID), whichever of the user's clients calls */
  user: [1200, 60],
} as const satisfies Record<string, readonly [number, number]>;

/** The fixed window `now` falls in, and the seconds left in it. */
function windowOf(windowSeconds: number, now: Date): { start: number; retryAfterSeconds: number } {
  const windowMs = windowSeconds * 1000;
  const start = Math.floor(now.getTime() / windowMs) * windowMs;
  return { start, retryAfterSeconds: Math.max(1, Math.ceil((start + windowMs - now.getTime()) / 1000)) };
}

/**
 * Count one event against `key` in the current fixed window and return the window's count so far (1: the
 * first). One atomic upsert per call.
 */
export async function countInWindow(key: string, windowSeconds: number, now = new Date()): Promise<number> {
  const { start } = windowOf(windowSeconds, now);
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
  return Number(rows[0]?.count ?? 0);
}

/** Add `n` events counted elsewhere (in a process's memory) to the window starting at `windowStart`. */
export async function addToWindow(key: string, windowStart: Date, n: number): Promise<void> {
  await db().$executeRaw`
    INSERT INTO "RateLimitBucket" ("key", "windowStart", "count")
    VALUES (${key}, ${windowStart.toISOString()}::timestamp, ${n})
    ON CONFLICT ("key", "windowStart") DO UPDATE SET "count" = "RateLimitBucket"."count" + ${n}`;
}

/** What the current window has counted for `key` so far, without counting anything (0 when nothing). */
export async function currentWindowCount(key: string, windowSeconds: number, now = new Date()): Promise<number> {
  const row = await db().rateLimitBucket.findUnique({
    where: { key_windowStart: { key, windowStart: new Date(windowOf(windowSeconds, now).start) } },
    select: { count: true },
  });
  return row?.count ?? 0;
}

/** What the window before the current one counted for `key` (0 when nothing). */
export async function previousWindowCount(key: string, windowSeconds: number, now = new Date()): Promise<number> {
  const { start } = windowOf(windowSeconds, now);
  const row = await db().rateLimitBucket.findUnique({
    where: { key_windowStart: { key, windowStart: new Date(start - windowSeconds * 1000) } },
    select: { count: true },
  });
  return row?.count ?? 0;
}

/**
 * Count one request against `key` in the current fixed window; throws RateLimitedError (429, with the
 * seconds until the window ends) once the window holds more than `limit`. One atomic upsert per call.
 */
export async function hitRateLimit(key: string, limit: number, windowSeconds: number, now = new Date()): Promise<void> {
  if ((await countInWindow(key, windowSeconds, now)) > limit) throw new RateLimitedError(windowOf(windowSeconds, now).retryAfterSeconds);
}

// Keys this process already saw over their limit, with the end of that window (ms).
const shed = new Map<string, number>();

/**
 * hitRateLimit for limits a client may hammer: once the database said a key is over its limit, this
 * process refuses it without a write until the window ends (the count can only grow inside a window).
 */
export async function hitRateLimitShedding(key: string, limit: number, windowSeconds: number, now = new Date()): Promise<void> {
  const until = shed.get(key);
  if (until !== undefined) {
    if (now.getTime() < until) throw new RateLimitedError(Math.max(1, Math.ceil((until - now.getTime()) / 1000)));
    shed.delete(key);
  }
  try {
    await hitRateLimit(key, limit, windowSeconds, now);
  } catch (e) {
    if (e instanceof RateLimitedError) {
      if (shed.size >= 10_000) shed.delete(shed.keys().next().value as string);
      shed.set(key, windowOf(windowSeconds, now).start + windowSeconds * 1000);
    }
    throw e;
  }
}

/** A named limit of RATE_LIMITS for one client id (or, for "user", one UID). */
export function limitClient(kind: keyof typeof RATE_LIMITS, clientId: string): Promise<void> {
  const [limit, window] = RATE_LIMITS[kind];
  return hitRateLimit(`${kind}:${clientId}`, limit, window);
}
