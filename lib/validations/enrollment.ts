// Enrollment policy input (SPEC §5, §8): device id lists as uploaded or pasted, and the portal forms and URLs.
import { z } from "zod";
import { DEVICE_ID_PATTERN } from "../pki/names.ts";
import { isStorableTime } from "./common.ts";
import { firstValue } from "./search-params.ts";

/** Device id lists above this go through the CLI or API: a server action's body is capped at 1 MB. */
export const LIST_MAX_BYTES = 900 * 1024;
export const LIST_MAX_IDS = 100_000;
export const CA_PEM_MAX_BYTES = 16 * 1024;
/** The highest enrollment rate limit a policy may set (attempts per minute; the database's check says the same). */
export const ENROLL_RATE_MAX = 1_000_000;

const blankToNull = (v: unknown) => (typeof v === "string" && v.trim() === "" ? null : v);

/** A `datetime-local` value has no zone; the forms say UTC. Blank: null. From 1970 to 9999, as the API takes them. */
export const utcDateTime = z.preprocess((v) => {
  const t = blankToNull(v);
  return typeof t === "string" && !/(Z|[+-]\d\d:?\d\d)$/.test(t.trim()) ? `${t.trim()}Z` : t;
}, z.coerce.date({ error: "Not a date." }).refine(isStorableTime, "A time from 1970 to 9999.").nullable());

/**
 * Enrollment attempts per minute as typed in a form: a whole number 0…ENROLL_RATE_MAX (0: no limit); blank gives
 * `blank` (null: inherit; undefined: not set).
 */
export function enrollRateField(blank: null | undefined) {
  return z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? blank : v),
    z.coerce
      .number({ error: "A whole number." })
      .int("A whole number.")
      .min(0, "At least 0 (0: no limit).")
      .max(ENROLL_RATE_MAX, `At most ${ENROLL_RATE_MAX.toLocaleString("en")}.`)
      .nullable()
      .optional(),
  );
}

/** keep: leave the stored list as it is; replace: the uploaded or pasted list; clear: empty (allow-list: any id). */
export const LIST_MODES = ["keep", "replace", "clear"] as const;

/** The customer-wide policy form; the two lists' file or text are read by the action (parseDeviceIdList). */
export const policyFormSchema = z.object({
  allowMode: z.enum(LIST_MODES, "Choose what to do with the allow-list."),
  denyMode: z.enum(LIST_MODES, "Choose what to do with the deny-list."),
  maxEnrollments: z.preprocess(
    blankToNull,
    z.coerce
      .number({ error: "A whole number." })
      .int("A whole number.")
      .min(1, "At least 1.")
      .max(10_000_000, "At most 10,000,000.")
      .nullable(),
  ),
  enrollUntil: utcDateTime,
  requireDeviceSecret: z
    .literal("on")
    .optional()
    .transform((v) => v === "on"),
  /** blank: inherit (null); 0: no limit; left out of the form: keep the stored value */
  enrollRatePerMinute: enrollRateField(null),
});

export const deviceSecretFormSchema = z.object({
  deviceId: z.string().trim().regex(DEVICE_ID_PATTERN, "A device id: 1–64 letters, digits and . : -"),
  /** blank: generate one */
  secret: z.preprocess(
    (v) => (typeof v === "string" && v.trim() === "" ? undefined : v),
    z
      .string()
      .min(16, "At least 16 characters.")
      .max(128, "At most 128 characters.")
      .regex(/^[A-Za-z0-9 '()+,\-./:=?_]+$/, "Letters, digits, spaces and ' ( ) + , - . / : = ? _ only (a PrintableString).")
      .optional(),
  ),
});

export const enrollmentGroupFormSchema = z.object({
  name: z.string().trim().min(1, "Give the group a name.").max(100, "At most 100 characters."),
  uid: z.uuid("Choose the user whose UID the group's devices carry."),
  caPem: z
    .string()
    .trim()
    .min(1, "Upload or paste the manufacturer CA certificate (PEM).")
    .refine((v) => Buffer.byteLength(v) <= CA_PEM_MAX_BYTES, `At most ${CA_PEM_MAX_BYTES / 1024} KiB.`)
    .refine((v) => v.includes("-----BEGIN CERTIFICATE-----"), "Expected a PEM certificate (BEGIN CERTIFICATE)."),
  /** proof of possession of the CA's key: a certificate the CA signed whose subject CN is the registration code */
  verificationPem: z
    .string()
    .trim()
    .min(1, "Upload or paste the verification certificate (PEM) the CA signed with your registration code.")
    .refine((v) => Buffer.byteLength(v) <= CA_PEM_MAX_BYTES, `At most ${CA_PEM_MAX_BYTES / 1024} KiB.`)
    .refine((v) => v.includes("-----BEGIN CERTIFICATE-----"), "Expected a PEM certificate (BEGIN CERTIFICATE)."),
});

export const groupIdFormSchema = z.object({ groupId: z.uuid("Not an enrollment group.") });

/** The page's URL: which page of device secrets. Anything invalid falls back to the first page. */
export const enrollmentQuerySchema = z.object({
  secrets: z.preprocess(firstValue, z.coerce.number().int().min(1).max(1_000_000).default(1).catch(1)),
});

export type DeviceIdList = {
  /** valid ids, duplicates dropped, in file order */
  ids: string[];
  /** lines that named an id, valid or not */
  entries: number;
  /** entries that fail DEVICE_ID_PATTERN (1-based line numbers) */
  invalid: { line: number; value: string }[];
};

const HEADER = /^(device[ _-]?ids?|devices?|ids?)$/i;

/**
 * A device id list as uploaded or pasted: one id per line, or the first column of a CSV (comma, semicolon or tab
 * separated, optionally quoted). A header line naming the column ("deviceId", "device_id", "id") is skipped, as
 * are blank lines and repeats; everything else must be a device id.
 */
export function parseDeviceIdList(text: string): DeviceIdList {
  const ids = new Set<string>();
  const invalid: DeviceIdList["invalid"] = [];
  let entries = 0;
  text
    .replace(/^\uFEFF/, "")
    .split(/\r\n|\n|\r/)
    .forEach((raw, i) => {
      const value = raw
        .split(/[,;\t]/)[0]
        .trim()
        .replace(/^"(.*)"$/, "$1")
        .trim();
      if (!value || (entries === 0 && invalid.length === 0 && HEADER.test(value))) return;
      entries++;
      if (DEVICE_ID_PATTERN.test(value)) ids.add(value);
      else invalid.push({ line: i + 1, value: value.slice(0, 80) });
    });
  return { ids: [...ids], entries, invalid };
}
