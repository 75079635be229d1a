import { z } from "zod";
import { portalReasonSchema } from "./revocation.ts";

export const caIdSchema = z.uuid("not a CA id");

export const rotateCaSchema = z.object({ caId: caIdSchema });

/** Revoking a customer TLS issuing CA: the staff member types the customer's name to confirm. */
export const revokeCaSchema = z.object({
  caId: caIdSchema,
  reason: portalReasonSchema.default("cessationOfOperation"),
  revokeBootstrap: z.enum(["on", "off"]).default("off"),
  confirmName: z.string().trim().min(1, "type the customer name to confirm"),
});
