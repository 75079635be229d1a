import { z } from "zod";
import { DEVICE_ID_PATTERN } from "../pki/names.ts";

export const CSR_MAX_BYTES = 8 * 1024;

/** "cam-1, cam-2\ncam-3" or a one-column CSV (an optional "deviceId" header line is skipped) → ids. */
export function splitDeviceIds(text: string): string[] {
  const ids = text
    .split(/[\s,;]+/)
    .map((s) => s.trim().replace(/^"(.*)"$/, "$1"))
    .filter(Boolean);
  return ids.length && /^device[_ -]?ids?$/i.test(ids[0]) ? ids.slice(1) : ids;
}

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
  enrollUntil: z
    .preprocess(
      // a datetime-local value has no zone: the form says UTC
      (v) => {
        const t = blankToUndefined(v);
        return typeof t === "string" && !/(Z|[+-]\d\d:?\d\d)$/.test(t) ? `${t}Z` : t;
      },
      z.coerce.date({ error: "Not a date." }).optional(),
    )
    .refine((d) => d === undefined || d.getTime() > Date.now(), "Must be in the future."),
  expectedDeviceIds: z
    .string()
    .max(1_000_000, "Too many device ids for the form; use the API or CLI.")
    .optional()
    .transform((v) => splitDeviceIds(v ?? ""))
    .refine((ids) => ids.every((id) => DEVICE_ID_PATTERN.test(id)), {
      message: "Device ids must match ^[A-Za-z0-9.:-]{1,64}$ (one per line or comma-separated).",
    })
    .refine((ids) => ids.length <= 10_000, "At most 10,000 device ids."),
});

export const releaseBootstrapFormSchema = z.object({
  serial: z
    .string()
    .trim()
    .regex(/^[0-9a-fA-F:]{1,64}$/, "Not a serial number."),
});
