import { isIPv4, isIPv6 } from "node:net";
// Fixed-window rate limits kept in the database (RateLimitBucket), so they hold across app processes.
import { Prisma } from "../../../generated/prisma/client.ts";
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

/**
 * Per-client limits of the customer API: [requests, window seconds]. Every authenticated request counts against
 * exactly one of read, change, issue, batch and keys, and against user (requireBearer, access-token.ts).
 */
export const RATE_LIMITS = {
  token: [60, 60],
  /** every authenticated read (GET) without a limit of its own */
  read: [600, 60],
  /** every authenticated change without a limit of its own: a revoke or reset reissues a CRL, a policy change writes */
  change: [120, 60],
  issue: [600, 60],
  batch: [60, 60],
  /** payload-signing key registrations and disablings: each verifies signatures and writes; people add few keys */
  keys: [30, 60],
  /** per customer user (UID), whichever of the user's clients calls: every authenticated request */
  user: [1200, 60],
} as const satisfies Record<string, readonly [number, number]>;

export type RateLimitKind = keyof typeof RATE_LIMITS;

/** The fixed window `now` falls in, and the seconds left in it. */
function windowOf(windowSeconds: number, now: Date): { start: number; retryAfterSeconds: number } {
  const windowMs = windowSeconds * 1000;
  const start = Math.floor(now.getTime() / windowMs) * windowMs;
  return { start, retryAfterSeconds: Math.max(1, Math.ceil((start + windowMs - now.getTime()) / 1000)) };
}

type Counted = { key: string; windowSeconds: number };

/**
 * Count one event against each key (distinct) in its current fixed window and return each window's count so far
 * (1: the first), in order. One atomic upsert per call, however many keys: the rows are locked in the order given.
 */
async function countEach(events: readonly Counted[], now: Date): Promise<number[]> {
  const starts = events.map((e) => new Date(windowOf(e.windowSeconds, now).start));
  const rows = await db().$queryRaw<{ key: string; count: number }[]>`
    INSERT INTO "RateLimitBucket" ("key", "windowStart", "count")
    VALUES ${Prisma.join(events.map((e, i) => Prisma.sql`(${e.key}, ${starts[i].toISOString()}::timestamp, 1)`))}
    ON CONFLICT ("key", "windowStart") DO UPDATE SET "count" = "RateLimitBucket"."count" + 1
    RETURNING "key", "count"`;
  // old windows are deleted by the scheduled check (lib/data/maintenance/prune.ts)
  const counts = new Map(rows.map((r) => [r.key, Number(r.count)]));
  return events.map((e) => counts.get(e.key) ?? 0);
}

/** Count one event against `key` in the current fixed window and return the window's count so far (1: the first). */
export async function countInWindow(key: string, windowSeconds: number, now = new Date()): Promise<number> {
  const [count] = await countEach([{ key, windowSeconds }], now);
  return count;
}

/**
 * Take back one event countInWindow counted against `key` with the same `now`: for an attempt counted before the
 * slow check that decides whether it should count at all. Never below 0.
 */
export async function uncountInWindow(key: string, windowSeconds: number, now = new Date()): Promise<void> {
  await db().rateLimitBucket.updateMany({
    where: { key, windowStart: new Date(windowOf(windowSeconds, now).start), count: { gt: 0 } },
    data: { count: { decrement: 1 } },
  });
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

type Limit = Counted & { limit: number };

/**
 * Count one request against each key (distinct) in its current fixed window; throws RateLimitedError (429, with
 * the seconds until the last window it is over ends) once any window holds more than its `limit`. One atomic
 * upsert per call: a refused request is counted against every key all the same.
 */
export async function hitRateLimits(limits: readonly Limit[], now = new Date()): Promise<void> {
  const counts = await countEach(limits, now);
  const over = limits.filter((l, i) => counts[i] > l.limit);
  if (over.length) throw new RateLimitedError(Math.max(...over.map((l) => windowOf(l.windowSeconds, now).retryAfterSeconds)));
}

/** hitRateLimits for one key. */
export function hitRateLimit(key: string, limit: number, windowSeconds: number, now = new Date()): Promise<void> {
  return hitRateLimits([{ key, limit, windowSeconds }], now);
}

/**
 * How long this process refuses a key the database said is over its limit before asking again. Short, so that a
 * limit raised (or lifted) in a policy holds in every process within a second (SPEC §9: nothing in one process's
 * memory may change an answer for long), yet a flood costs at most one database write per key and second.
 */
export const SHED_MS = 1_000;

// Keys this process saw over their limit: until when it refuses them unasked, and when their window ends (ms).
const shed = new Map<string, { until: number; windowEnd: number }>();

/**
 * Throws RateLimitedError when this process saw `key` over its limit less than SHED_MS ago, in the current window:
 * the refusal of hitRateLimitShedding that needs no database work (not even to learn the limit).
 */
export function refuseShed(key: string, now = new Date()): void {
  const entry = shed.get(key);
  if (entry === undefined) return;
  const t = now.getTime();
  if (t < entry.until) throw new RateLimitedError(Math.max(1, Math.ceil((entry.windowEnd - t) / 1000)));
  shed.delete(key);
}

/**
 * hitRateLimit for limits a client may hammer: once the database said a key is over its limit, this process
 * refuses it without a write for SHED_MS (at most until the window ends; the count only grows inside a window).
 */
export async function hitRateLimitShedding(key: string, limit: number, windowSeconds: number, now = new Date()): Promise<void> {
  refuseShed(key, now);
  try {
    await hitRateLimit(key, limit, windowSeconds, now);
  } catch (e) {
    if (e instanceof RateLimitedError) {
      if (shed.size >= 10_000) shed.delete(shed.keys().next().value as string);
      const windowEnd = windowOf(windowSeconds, now).start + windowSeconds * 1000;
      shed.set(key, { until: Math.min(windowEnd, now.getTime() + SHED_MS), windowEnd });
    }
    throw e;
  }
}

/** Named limits of RATE_LIMITS, each for its id (a client id; for "user" a UID), counted in one upsert. */
export function limitEach(limits: readonly (readonly [kind: RateLimitKind, id: string])[]): Promise<void> {
  return hitRateLimits(
    limits.map(([kind, id]) => {
      const [limit, windowSeconds] = RATE_LIMITS[kind];
      return { key: `${kind}:${id}`, limit, windowSeconds };
    }),
  );
}

/** A named limit of RATE_LIMITS for one client id (or, for "user", one UID). */
export function limitClient(kind: RateLimitKind, clientId: string): Promise<void> {
  return limitEach([[kind, clientId]]);
}

/**
 * The rate-limit key of a client address: IPv4 as is, IPv6 by its /64 (one subscriber usually holds a /64), or by
 * its /48 (one site) where a caller must not multiply its keys: the refusal audit of unknown callers, which a
 * caller with a /48 could otherwise spread over 65,536 keys a minute.
 */
export function clientKey(ip: string | null, v6Prefix: 48 | 64 = 64): string {
  if (!ip) return "unknown";
  const address = ip.replace(/%.*$/, "");
  const v4 = address.replace(/^::ffff:/i, "");
  if (isIPv4(v4)) return v4;
  if (!isIPv6(address)) return address;
  const [head, tail] = address.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return `${groups
    .slice(0, v6Prefix / 16)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(":")}::/${v6Prefix}`;
}
