import { z } from "zod";
import { revocationReasonSchema } from "../pki/crl.ts";

/** Reason options for the revoke forms: the reasons a revocation may record. */
export const REASON_OPTIONS = revocationReasonSchema.options.map((r) => ({ value: r, label: r.replace(/([A-Z])/g, " $1").toLowerCase() }));

/** What a person may pick in the portal (the same reasons as the API and the CLI). */
export const portalReasonSchema = revocationReasonSchema;

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

export const resetDeviceSchema = z.object({
  deviceRef: z.uuid("not a device"),
  reason: portalReasonSchema.default("superseded"),
  /** the bootstrapping certificate the device re-enrolls with; empty: the one that enrolled it */
  bootstrapSerial: z
    .string()
    .trim()
    .refine((v) => v === "" || /^(0x)?[0-9A-Fa-f:]{1,80}$/.test(v), "not a certificate serial")
    .optional(),
});
