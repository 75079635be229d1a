import { z } from "zod";
import { passwordSchema } from "./user.ts";

/** A customer admin adds a user to its own customer; an empty password means "generate one, show it once". */
export const addCustomerUserFormSchema = z.preprocess(
  (raw) => {
    const v = (raw ?? {}) as Record<string, unknown>;
    return { ...v, password: v.password === "" ? undefined : v.password };
  },
  z.object({
    email: z.email("enter an email address").transform((e) => e.toLowerCase()),
    role: z.enum(["CUSTOMER_ADMIN", "CUSTOMER_VIEWER"], "choose a role"),
    password: passwordSchema.optional(),
  }),
);

export const clientIdSchema = z.object({ clientId: z.string().regex(/^pss_[0-9a-f]{24}$/, "not a client id") });
export const uidSchema = z.object({ uid: z.uuid("not a UID") });
