// Checks on values that come from outside (URLs, API bodies, forms) before they reach PostgreSQL: a value it
// refuses fails the query, and the caller would see a 500 where SPEC §7 wants a clear 4xx with a code.
import { z } from "zod";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether `v` is a UUID as the @db.Uuid columns take it (8-4-4-4-12 hex digits, any version): anything else looked
 * up there fails the query (22P02), so a caller treats it as an unknown id. A row id from a URL is checked with it.
 */
export function isUuid(v: string): boolean {
  return UUID.test(v);
}

/** PostgreSQL text cannot hold U+0000 (22021): a string that may reach a text column is refused with this. */
export const hasNoNul = (s: string): boolean => !s.includes("\u0000");
export const NUL_MESSAGE = "must not contain a NUL character";

/**
 * The times the product takes from outside: 1970-01-01 to 9999-12-31 (UTC). PostgreSQL has no year 0 and reads
 * neither the "-000001-…" nor the "+010000-…" form JavaScript writes outside 0000–9999, and nothing the product
 * schedules or looks back to lies before the Unix epoch.
 */
export const EARLIEST_TIME = Date.UTC(1970, 0, 1);
export const LATEST_TIME = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
export const TIME_RANGE_MESSAGE = "must be a time from 1970 to 9999 (UTC)";

export function isStorableTime(d: Date): boolean {
  const t = d.getTime();
  return t >= EARLIEST_TIME && t <= LATEST_TIME;
}

/**
 * An RFC 3339 date-time (Z or an offset) within EARLIEST_TIME..LATEST_TIME once its offset is applied
 * ("9999-12-31T23:00:00-05:00" is in the year 10000): every date-time a request carries.
 */
export const dateTimeSchema = z.iso.datetime({ offset: true }).refine((s) => isStorableTime(new Date(s)), TIME_RANGE_MESSAGE);
