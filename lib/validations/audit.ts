import { z } from "zod";
import { firstValue } from "./search-params.ts";

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
      .regex(/^\d{1,19}$/)
      .optional()
      .catch(undefined),
  ),
});

export type AuditQuery = z.infer<typeof auditQuerySchema>;
