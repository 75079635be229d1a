import { z } from "zod";
import { firstValue } from "./search-params.ts";

/** The largest audit event id (bigint: int8); a larger cursor would fail the query, so it falls back like any bad value. */
const INT8_MAX = 9_223_372_036_854_775_807n;

/** The audit page's URL → a query; invalid values fall back to defaults (the URL is user-editable). */
export const auditQuerySchema = z.object({
  action: z.preprocess(
    firstValue,
    z
      .string()
      .trim()
      .regex(/^[a-z0-9_.-]{1,64}$/)
      .optional()
      .catch(undefined),
  ),
  outcome: z.preprocess(firstValue, z.enum(["success", "refused", "failure"]).optional().catch(undefined)),
  before: z.preprocess(
    firstValue,
    z
      .string()
      .refine((v) => /^\d{1,19}$/.test(v) && BigInt(v) <= INT8_MAX)
      .optional()
      .catch(undefined),
  ),
});

export type AuditQuery = z.infer<typeof auditQuerySchema>;
