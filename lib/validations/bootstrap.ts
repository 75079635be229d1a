import { z } from "zod";
import { enrollRateField, parseDeviceIdList, utcDateTime } from "./enrollment.ts";
import { portalReasonSchema } from "./revocation.ts";
import { firstValue } from "./search-params.ts";

export const CSR_MAX_BYTES = 8 * 1024;
export const BOOTSTRAP_PAGE_SIZE = 25;
export const BOOTSTRAP_MAX_PAGE_SIZE = 100;

const blankToUndefined = (v: unknown) => (typeof v === "string" ? v.trim() || undefined : v);

/** The portal's "request a bootstrapping certificate" form, with the optional enrollment policy (SPEC §5). */
export const requestBootstrapFormSchema = z.object({
  mode: z.enum(["upload", "generate"]),
  csr: z
    .string()
    .trim()
    .min(1, "Choose a CSR file (PEM).")
    .refine((v) => Buffer.byteLength(v) <= CSR_MAX_BYTES, `A CSR may be at most ${CSR_MAX_BYTES} bytes.`)
    .refine((v) => v.includes("-----BEGIN CERTIFICATE REQUEST-----"), "Expected a PEM certificate request (BEGIN CERTIFICATE REQUEST)."),
  maxEnrollments: z.preprocess(
    blankToUndefined,
    z.coerce.number({ error: "A whole number." }).int("A whole number.").min(1, "At least 1.").max(10_000_000).optional(),
  ),
  /** blank: inherit the customer's limit */
  enrollRatePerMinute: enrollRateField(undefined),
  enrollUntil: utcDateTime
    .transform((d) => d ?? undefined)
    .refine((d) => d === undefined || d.getTime() > Date.now(), "Must be in the future."),
  expectedDeviceIds: z
    .string()
    .max(1_000_000, "Too many device ids for the form; use the API or CLI.")
    .optional()
    .transform((v, ctx) => {
      const list = parseDeviceIdList(v ?? "");
      if (list.invalid.length)
        ctx.addIssue({
          code: "custom",
          message: `Not a device id (^[A-Za-z0-9.:-]{1,64}$) on ${list.invalid
            .slice(0, 3)
            .map((i) => `line ${i.line}: “${i.value}”`)
            .join(", ")}. One id per line, or a CSV whose first column is the id.`,
        });
      return list.ids;
    })
    .refine((ids) => ids.length <= 10_000, "At most 10,000 device ids."),
});

export const releaseBootstrapFormSchema = z.object({
  serial: z
    .string()
    .trim()
    .regex(/^[0-9a-fA-F:]{1,64}$/, "Not a serial number."),
});

/** Revoke one bootstrapping certificate, and optionally the Client TLS certificates it enrolled at or after a time. */
export const revokeBootstrapFormSchema = releaseBootstrapFormSchema
  .extend({
    reason: portalReasonSchema,
    alsoRevokeDevices: z
      .literal("on")
      .optional()
      .transform((v) => v === "on"),
    enrolledAfter: utcDateTime.optional(),
  })
  .superRefine((v, ctx) => {
    if (v.alsoRevokeDevices && !v.enrolledAfter)
      ctx.addIssue({ code: "custom", path: ["enrolledAfter"], message: "Choose the time from which enrolled devices are revoked." });
  });

/** The page's URL: which page of the list and its size. Anything invalid falls back to the default (the URL is user-editable). */
export const bootstrapQuerySchema = z.object({
  page: z.preprocess(firstValue, z.coerce.number().int().min(1).max(1_000_000).default(1).catch(1)),
  size: z.preprocess(firstValue, z.coerce.number().int().min(1).max(BOOTSTRAP_MAX_PAGE_SIZE).optional().catch(undefined)),
});
