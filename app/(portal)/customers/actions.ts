"use server";

import { revalidatePath } from "next/cache";
import { type ActionState, failed, formValues, invalid } from "@/lib/actions/action-state.ts";
import { requireRole } from "@/lib/auth/session.ts";
import { createCustomer, type OnboardedCustomer } from "@/lib/data/customers/create-customer.ts";
import { onboardCustomerFormSchema } from "@/lib/validations/onboarding.ts";

/** Staff onboard a customer: customer, first admin, API client and CAs. Secrets go back once, never stored in clear. */
export async function onboardCustomerAction(
  _prev: ActionState<OnboardedCustomer>,
  form: FormData,
): Promise<ActionState<OnboardedCustomer>> {
  const user = await requireRole("STAFF");
  try {
    const values = formValues(form);
    const parsed = onboardCustomerFormSchema.safeParse(values);
    if (!parsed.success) return invalid(parsed.error, { name: values.name ?? "", adminEmail: values.adminEmail ?? "" });
    const result = await createCustomer(parsed.data, { type: "user", id: user.id, customerId: null });
    revalidatePath("/customers");
    return { status: "ok", data: result };
  } catch (e) {
    return failed(e, "customer.onboard");
  }
}
