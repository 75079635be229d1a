import { z } from "zod";
import { createCustomerSchema } from "./customer.ts";

/** The onboarding wizard's form: an empty password field means "generate one and show it once". */
export const onboardCustomerFormSchema = z.preprocess((raw) => {
  const v = (raw ?? {}) as Record<string, unknown>;
  return { ...v, adminPassword: v.adminPassword === "" ? undefined : v.adminPassword };
}, createCustomerSchema);
