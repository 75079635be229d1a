import { z } from "zod";
import { REVOCATION_REASONS, revocationReasonSchema } from "../pki/crl.ts";

/** Reason options for the revoke forms (removeFromCRL is a CRL-internal code, never a choice). */
export const REASON_OPTIONS = Object.keys(REVOCATION_REASONS)
  .filter((r) => r !== "removeFromCRL")
  .map((r) => ({ value: r, label: r.replace(/([A-Z])/g, " $1").toLowerCase() }));

/** What a person may pick: removeFromCRL is a CRL-internal code. */
export const portalReasonSchema = revocationReasonSchema.exclude(["removeFromCRL"]);

export const revokeCertificateSchema = z.object({
  serial: z
    .string()
    .trim()
    .regex(/^[0-9a-fA-F:]{1,64}$/, "not a serial"),
  reason: portalReasonSchema,
});

export const decommissionDeviceSchema = z.object({
  deviceRef: z.uuid("not a device"),
  reason: portalReasonSchema.default("cessationOfOperation"),
});
