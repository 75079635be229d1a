import { z } from "zod";

const first = (v: unknown) => (Array.isArray(v) ? v[0] : v);

/** The audit page's URL → a query; invalid values fall back to defaults (the URL is user-editable). */
export const auditQuerySchema = z.object({
  action: z.preprocess(
    first,
    z
      .string()
      .trim()
      .regex(/^[a-z0-9_.-]{1,64}$/)
      .optional()
      .catch(undefined),
  ),
  outcome: z.preprocess(first, z.enum(["success", "refused", "failure"]).optional().catch(undefined)),
  before: z.preprocess(
    first,
    z
      .string()
      .regex(/^\d{1,19}$/)
      .optional()
      .catch(undefined),
  ),
});

export type AuditQuery = z.infer<typeof auditQuerySchema>;
