"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { type ActionState, failed, formValues, invalid } from "@/lib/actions/action-state.ts";
import { requireRole } from "@/lib/auth/session.ts";
import {
  addDeviceSecret,
  addEnrollmentGroup,
  customerPolicy,
  disableEnrollmentGroup,
  setEnrollmentPolicy,
} from "@/lib/data/enrollment/manage-policy.ts";
import { portalCaller } from "@/lib/data/users/portal-caller.ts";
import { isAppError } from "@/lib/errors.ts";
import {
  deviceSecretFormSchema,
  enrollmentGroupFormSchema,
  groupIdFormSchema,
  LIST_MAX_BYTES,
  LIST_MAX_IDS,
  parseDeviceIdList,
  policyFormSchema,
} from "@/lib/validations/enrollment.ts";

// Every action: a customer admin (viewers and staff get 403), acting on the customer the database says the
// signed-in user belongs to (portalCaller), never on one named by the form; input parsed with zod; the data
// layer writes the audit event in the same transaction as the change.

export type PolicySaved = { allow: number; deny: number };
type FieldErrors = Record<string, string[]>;

/** Empty: the customer-wide policy; else a bootstrapping certificate's serial (the data layer checks it is ours). */
const bootstrapSerialField = z
  .string()
  .regex(/^[0-9a-f]{1,40}$/i)
  .optional()
  .or(z.literal("").transform(() => undefined));

/** Pasted text is echoed back on a field error only while it is small; a file never is. */
const ECHO_MAX = 64 * 1024;
const ECHOED = [
  "allowMode",
  "denyMode",
  "maxEnrollments",
  "enrollUntil",
  "requireDeviceSecret",
  "enrollRatePerMinute",
  "allowText",
  "denyText",
];

/** The text of a list: the uploaded file when one was chosen, else what was pasted. */
async function listText(form: FormData, file: string, text: string): Promise<string | { error: string }> {
  const f = form.get(file);
  if (f instanceof File && f.size > 0) {
    if (f.size > LIST_MAX_BYTES) return { error: tooBig };
    return f.text();
  }
  const t = form.get(text);
  const s = typeof t === "string" ? t : "";
  return Buffer.byteLength(s) > LIST_MAX_BYTES ? { error: tooBig } : s;
}

const tooBig = `The list is larger than ${LIST_MAX_BYTES / 1024} KiB; use \`pss policy set\` or the customer API for bigger lists.`;

/** A list field → the new list (undefined: keep the stored one) or its error: the count and the first bad lines. */
async function listOf(form: FormData, name: "allow" | "deny", mode: string | undefined): Promise<string[] | undefined | { error: string }> {
  if (mode === "keep" || mode === undefined) return undefined;
  if (mode === "clear") return [];
  const text = await listText(form, `${name}File`, `${name}Text`);
  if (typeof text !== "string") return text;
  const list = parseDeviceIdList(text);
  if (list.entries === 0) return { error: "No device ids found. Upload a CSV file or paste one id per line (or choose Clear)." };
  if (list.invalid.length) {
    const shown = list.invalid
      .slice(0, 5)
      .map((i) => `line ${i.line}: “${i.value}”`)
      .join("; ");
    return {
      error: `${list.invalid.length.toLocaleString("en")} of ${list.entries.toLocaleString("en")} entries are not device ids (^[A-Za-z0-9.:-]{1,64}$): ${shown}${list.invalid.length > 5 ? "; …" : ""}`,
    };
  }
  if (list.ids.length > LIST_MAX_IDS)
    return { error: `${list.ids.length.toLocaleString("en")} device ids: at most ${LIST_MAX_IDS.toLocaleString("en")}.` };
  return list.ids;
}

const sameMinute = (a: Date | null, b: Date | null) =>
  a !== null && b !== null && Math.floor(a.getTime() / 60_000) === Math.floor(b.getTime() / 60_000);

/**
 * A customer admin edits the customer-wide enrollment policy, or one bootstrapping certificate's own (the form's
 * `bootstrapSerial`): allow-list, deny-list, budget, one-time secrets, enrollment rate limit.
 */
export async function setPolicyAction(_prev: ActionState<PolicySaved>, form: FormData): Promise<ActionState<PolicySaved>> {
  const user = await requireRole("CUSTOMER_ADMIN");
  try {
    const values = formValues(form);
    const keep: Record<string, string> = {};
    for (const k of ECHOED) if (values[k] !== undefined && values[k].length <= ECHO_MAX) keep[k] = values[k];
    const parsed = policyFormSchema.safeParse(values);
    const errors: FieldErrors = parsed.success ? {} : { ...(z.flattenError(parsed.error).fieldErrors as FieldErrors) };
    const [allow, deny] = await Promise.all([listOf(form, "allow", values.allowMode), listOf(form, "deny", values.denyMode)]);
    if (allow && !Array.isArray(allow)) errors.allow = [allow.error];
    if (deny && !Array.isArray(deny)) errors.deny = [deny.error];
    const caller = await portalCaller(user);
    // a bootstrapping certificate's own policy, or the customer-wide one
    const bootstrapSerial = bootstrapSerialField.safeParse(values.bootstrapSerial);
    if (!bootstrapSerial.success) return { status: "error", message: "Not a certificate serial." };
    const serial = bootstrapSerial.data;
    if (parsed.success && parsed.data.enrollUntil && parsed.data.enrollUntil.getTime() <= Date.now()) {
      // a past date closes enrollment; it may stay as it was, but not be newly set by mistake
      const current = await customerPolicy(caller.customerId, 0, serial);
      if (!sameMinute(current.enrollUntil, parsed.data.enrollUntil)) errors.enrollUntil = ["Must be in the future."];
    }
    if (!parsed.success || Object.keys(errors).length) return { status: "invalid", fieldErrors: errors, values: keep };
    const { maxEnrollments, enrollUntil, requireDeviceSecret, enrollRatePerMinute } = parsed.data;
    const row = await setEnrollmentPolicy(
      {
        customerId: caller.customerId,
        ...(serial ? { bootstrapSerial: serial } : {}),
        ...(Array.isArray(allow) ? { allowDeviceIds: allow } : {}),
        ...(Array.isArray(deny) ? { denyDeviceIds: deny } : {}),
        maxEnrollments,
        enrollUntil,
        requireDeviceSecret,
        enrollRatePerMinute,
      },
      caller.actor,
    );
    revalidatePath("/enrollment");
    revalidatePath("/bootstrap", "layout");
    const saved = { allow: row.allowDeviceIds.length, deny: row.denyDeviceIds.length };
    return {
      status: "ok",
      data: saved,
      message: `Policy saved. Allow-list: ${saved.allow ? `${saved.allow.toLocaleString("en")} device ids` : "any device id"}; deny-list: ${saved.deny.toLocaleString("en")}.`,
    };
  } catch (e) {
    return failed(e, "enrollment_policy.set");
  }
}

export type NewDeviceSecret = { deviceId: string; secret: string };

/** A customer admin registers a one-time enrollment secret for a device id; the secret is shown once. */
export async function addDeviceSecretAction(_prev: ActionState<NewDeviceSecret>, form: FormData): Promise<ActionState<NewDeviceSecret>> {
  const user = await requireRole("CUSTOMER_ADMIN");
  try {
    const values = formValues(form);
    const parsed = deviceSecretFormSchema.safeParse(values);
    if (!parsed.success) return invalid(parsed.error, { deviceId: values.deviceId ?? "" });
    const caller = await portalCaller(user);
    const r = await addDeviceSecret(
      { customerId: caller.customerId, deviceId: parsed.data.deviceId, ...(parsed.data.secret ? { secret: parsed.data.secret } : {}) },
      caller.actor,
    );
    revalidatePath("/enrollment");
    return { status: "ok", data: { deviceId: r.deviceId, secret: r.secret }, message: `Secret registered for ${r.deviceId}.` };
  } catch (e) {
    return failed(e, "device_secret.add");
  }
}

/** Data-layer refusals that belong to one field of the group form. */
const GROUP_FIELD: Record<string, string> = {
  ca_cert_invalid: "caPem",
  group_verification_invalid: "verificationPem",
  user_not_found: "uid",
  user_disabled: "uid",
  group_exists: "name",
};

/**
 * A customer admin adds an enrollment group: a manufacturer CA and its verification certificate (each PEM, uploaded
 * or pasted), a name and a user's UID.
 */
export async function addGroupAction(
  _prev: ActionState<{ id: string; name: string }>,
  form: FormData,
): Promise<ActionState<{ id: string; name: string }>> {
  const user = await requireRole("CUSTOMER_ADMIN");
  const values = formValues(form);
  const keep = { name: values.name ?? "", uid: values.uid ?? "" };
  try {
    // an uploaded file wins over the pasted text; an oversized one fails the schema's size check
    const pem = async (fileField: string, pasted: string | undefined) => {
      const file = form.get(fileField);
      return file instanceof File && file.size > 0 ? (file.size > 64 * 1024 ? "x".repeat(64 * 1024) : await file.text()) : pasted;
    };
    const caPem = await pem("caFile", values.caPem);
    const verificationPem = await pem("verificationFile", values.verificationPem);
    const parsed = enrollmentGroupFormSchema.safeParse({ ...values, caPem, verificationPem });
    if (!parsed.success) return invalid(parsed.error, keep);
    const caller = await portalCaller(user);
    const g = await addEnrollmentGroup(
      {
        customerId: caller.customerId,
        name: parsed.data.name,
        caCert: parsed.data.caPem,
        verificationCert: parsed.data.verificationPem,
        uid: parsed.data.uid,
      },
      caller.actor,
    );
    revalidatePath("/enrollment");
    return { status: "ok", data: { id: g.id, name: g.name }, message: `Enrollment group “${g.name}” added.` };
  } catch (e) {
    if (isAppError(e) && GROUP_FIELD[e.code])
      return { status: "invalid", fieldErrors: { [GROUP_FIELD[e.code]]: [e.message] }, values: keep };
    return failed(e, "enrollment_group.add");
  }
}

/** A customer admin disables one of their customer's enrollment groups (another customer's: 404). */
export async function disableGroupAction(_prev: ActionState<{ id: string }>, form: FormData): Promise<ActionState<{ id: string }>> {
  const user = await requireRole("CUSTOMER_ADMIN");
  try {
    const parsed = groupIdFormSchema.safeParse(formValues(form));
    if (!parsed.success) return invalid(parsed.error);
    const caller = await portalCaller(user);
    const r = await disableEnrollmentGroup({ customerId: caller.customerId, groupId: parsed.data.groupId }, caller.actor);
    revalidatePath("/enrollment");
    return { status: "ok", data: { id: r.id }, message: `Group “${r.name}” disabled.` };
  } catch (e) {
    return failed(e, "enrollment_group.disable");
  }
}
