"use server";

import { revalidatePath } from "next/cache";
import { type ActionState, failed, formValues, invalid } from "@/lib/actions/action-state.ts";
import { generatePassword } from "@/lib/auth/password.ts";
import { requireRole } from "@/lib/auth/session.ts";
import { tenantOf } from "@/lib/auth/tenant.ts";
import { createClient, disableClient, rotateClientSecret } from "@/lib/data/clients/manage-clients.ts";
import { createUser } from "@/lib/data/users/create-user.ts";
import { isAppError } from "@/lib/errors.ts";
import { addCustomerUserFormSchema, clientIdSchema, uidSchema } from "@/lib/validations/users.ts";

export type NewCredentials = { label: string; clientId?: string; clientSecret?: string; email?: string; password?: string; uid?: string };

// Every action: a customer admin, acting on its own customer only (the tenant comes from the session user,
// never from the form); input parsed with zod; secrets returned once.

export async function addUserAction(_prev: ActionState<NewCredentials>, form: FormData): Promise<ActionState<NewCredentials>> {
  const me = await requireRole("CUSTOMER_ADMIN");
  try {
    const values = formValues(form);
    const parsed = addCustomerUserFormSchema.safeParse(values);
    if (!parsed.success) return invalid(parsed.error, { email: values.email ?? "", role: values.role ?? "" });
    const password = parsed.data.password ?? generatePassword();
    const actor = { type: "user", id: me.id, customerId: me.customerId } as const;
    const { client, ...user } = await createUser(
      { email: parsed.data.email, role: parsed.data.role, customerId: tenantOf(me)!, password },
      actor,
      { withClient: true },
    );
    revalidatePath("/users");
    return {
      status: "ok",
      data: {
        label: `User ${user.email} created`,
        email: user.email,
        uid: user.uid,
        ...client,
        ...(parsed.data.password ? {} : { password }),
      },
    };
  } catch (e) {
    // Addresses are unique across customers (they sign in): a customer admin is not told that one belongs to a
    // user somewhere, perhaps of another customer or on staff.
    if (isAppError(e) && e.code === "user_exists") return { status: "error", message: "This email address cannot be used for a new user." };
    return failed(e, "user.create");
  }
}

export async function newClientAction(_prev: ActionState<NewCredentials>, form: FormData): Promise<ActionState<NewCredentials>> {
  const me = await requireRole("CUSTOMER_ADMIN");
  try {
    const parsed = uidSchema.safeParse(formValues(form));
    if (!parsed.success) return invalid(parsed.error);
    const client = await createClient({
      uid: parsed.data.uid,
      customerId: me.customerId,
      actor: { type: "user", id: me.id, customerId: me.customerId },
    });
    revalidatePath("/users");
    return { status: "ok", data: { label: "New API client", ...client } };
  } catch (e) {
    return failed(e, "client.create");
  }
}

export async function rotateSecretAction(_prev: ActionState<NewCredentials>, form: FormData): Promise<ActionState<NewCredentials>> {
  const me = await requireRole("CUSTOMER_ADMIN");
  try {
    const parsed = clientIdSchema.safeParse(formValues(form));
    if (!parsed.success) return invalid(parsed.error);
    const rotated = await rotateClientSecret({
      clientId: parsed.data.clientId,
      customerId: me.customerId,
      actor: { type: "user", id: me.id, customerId: me.customerId },
    });
    revalidatePath("/users");
    return { status: "ok", data: { label: "Secret rotated: the old secret no longer works", ...rotated } };
  } catch (e) {
    return failed(e, "client.rotate_secret");
  }
}

export async function disableClientAction(_prev: ActionState<NewCredentials>, form: FormData): Promise<ActionState<NewCredentials>> {
  const me = await requireRole("CUSTOMER_ADMIN");
  try {
    const parsed = clientIdSchema.safeParse(formValues(form));
    if (!parsed.success) return invalid(parsed.error);
    await disableClient({
      clientId: parsed.data.clientId,
      customerId: me.customerId,
      actor: { type: "user", id: me.id, customerId: me.customerId },
    });
    revalidatePath("/users");
    return { status: "ok", data: { label: `API client ${parsed.data.clientId} disabled` } };
  } catch (e) {
    return failed(e, "client.disable");
  }
}
