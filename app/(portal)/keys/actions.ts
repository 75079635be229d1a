"use server";

import { revalidatePath } from "next/cache";
import { type ActionState, failed, formValues, invalid } from "@/lib/actions/action-state.ts";
import { requireRole } from "@/lib/auth/session.ts";
import { disableSigningKey } from "@/lib/data/signing-keys/disable-signing-key.ts";
import { registerPortalSigningKey } from "@/lib/data/signing-keys/register-portal-signing-key.ts";
import { portalCaller, reauthenticate } from "@/lib/data/users/portal-caller.ts";
import { env } from "@/lib/env.ts";
import { disableSigningKeyFormSchema, registerSigningKeyFormSchema } from "@/lib/validations/signing-keys.ts";

/**
 * A customer admin registers a payload-signing key for themself: proof of possession (the JWS the browser built,
 * or one pasted with its JWK) plus their password again, which stands in for an existing key's co-signature.
 */
export async function registerSigningKeyAction(_prev: ActionState<{ kid: string }>, form: FormData): Promise<ActionState<{ kid: string }>> {
  const user = await requireRole("CUSTOMER_ADMIN");
  try {
    const values = formValues(form);
    const parsed = registerSigningKeyFormSchema.safeParse(values);
    if (!parsed.success) return invalid(parsed.error, { jwk: values.jwk ?? "", jws: values.mode === "paste" ? (values.jws ?? "") : "" });
    const caller = await portalCaller(user);
    if (!(await reauthenticate(caller, parsed.data.password)))
      return { status: "invalid", fieldErrors: { password: ["Wrong password."] }, values: { jwk: parsed.data.jwk ?? "" } };
    const key = await registerPortalSigningKey({
      caller,
      jws: parsed.data.jws,
      ...(parsed.data.mode === "paste" ? { jwk: parsed.data.jwk ?? "" } : {}),
      url: `${env().publicUrl}/keys`,
    });
    revalidatePath("/keys");
    return { status: "ok", data: { kid: key.kid }, message: `Key ${key.kid} registered.` };
  } catch (e) {
    return failed(e, "signing_key.register");
  }
}

/** A customer admin disables one of their own keys (another user's kid: 404). Disabling is final. */
export async function disableSigningKeyAction(_prev: ActionState<{ kid: string }>, form: FormData): Promise<ActionState<{ kid: string }>> {
  const user = await requireRole("CUSTOMER_ADMIN");
  try {
    const parsed = disableSigningKeyFormSchema.safeParse(formValues(form));
    if (!parsed.success) return invalid(parsed.error);
    const r = await disableSigningKey(await portalCaller(user), parsed.data.kid);
    revalidatePath("/keys");
    return { status: "ok", data: { kid: r.kid }, message: "Key disabled." };
  } catch (e) {
    return failed(e, "signing_key.disable");
  }
}
