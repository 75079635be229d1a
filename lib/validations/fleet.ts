import { z } from "zod";
import { dateTimeSchema, hasNoNul } from "./common.ts";
import { firstValue } from "./search-params.ts";

export const FLEET_SORTS = ["enrolled", "expiry", "rotation"] as const;
export const FLEET_STATUSES = ["all", "active", "revoked", "expired", "quarantined"] as const;
/** "expiring within N days": the presets the filter offers; the URL takes any number of days up to MAX_EXPIRING_DAYS */
export const EXPIRING_PRESETS = [7, 30, 90] as const;
export const MAX_EXPIRING_DAYS = 3650;
export const MAX_PAGE_SIZE = 100;

/** A keyset cursor: the sort value (null: a device without a certificate, sorted by expiry) and id of the last row of the previous page, base64url JSON. */
export const cursorSchema = z
  .string()
  .max(200)
  .transform((s, ctx) => {
    try {
      const v = z.object({ v: dateTimeSchema.nullable(), id: z.uuid() }).parse(JSON.parse(Buffer.from(s, "base64url").toString("utf8")));
      return v;
    } catch {
      ctx.addIssue({ code: "custom", message: "bad cursor" });
      return z.NEVER;
    }
  });

export function encodeCursor(v: Date | null, id: string): string {
  return Buffer.from(JSON.stringify({ v: v ? v.toISOString() : null, id })).toString("base64url");
}

/**
 * The fleet page's URL (search params) → a query. Anything invalid falls back to the default rather than
 * failing the page: the URL is user-editable. The customer filter is honoured for staff only (the caller decides).
 */
export const fleetQuerySchema = z.object({
  q: z.preprocess(firstValue, z.string().trim().max(128).refine(hasNoNul).optional().catch(undefined)),
  status: z.preprocess(firstValue, z.enum(FLEET_STATUSES).default("all").catch("all")),
  overdue: z.preprocess(firstValue, z.enum(["1"]).optional().catch(undefined)),
  expiring: z.preprocess(firstValue, z.coerce.number().int().min(1).max(MAX_EXPIRING_DAYS).optional().catch(undefined)),
  sort: z.preprocess(firstValue, z.enum(FLEET_SORTS).default("enrolled").catch("enrolled")),
  dir: z.preprocess(firstValue, z.enum(["asc", "desc"]).default("desc").catch("desc")),
  size: z.preprocess(firstValue, z.coerce.number().int().min(5).max(MAX_PAGE_SIZE).default(25).catch(25)),
  cursor: z.preprocess(firstValue, cursorSchema.optional().catch(undefined)),
  customer: z.preprocess(firstValue, z.uuid().optional().catch(undefined)),
});

export type FleetQuery = z.infer<typeof fleetQuerySchema>;
export type FleetSort = (typeof FLEET_SORTS)[number];
