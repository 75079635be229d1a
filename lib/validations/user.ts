import { z } from "zod";

export const roleSchema = z.enum(["STAFF", "CUSTOMER_ADMIN", "CUSTOMER_VIEWER"]);

export const passwordSchema = z.string().min(12, "at least 12 characters").max(256);

export const createUserSchema = z
  .object({
    email: z.email().transform((e) => e.toLowerCase()),
    role: roleSchema,
    customerId: z.uuid().optional(),
    password: passwordSchema.optional(),
    name: z.string().trim().min(1).max(100).optional(),
  })
  .refine((u) => (u.role === "STAFF") === (u.customerId === undefined), {
    message: "staff users belong to no customer; customer users need a customerId",
    path: ["customerId"],
  });

export type CreateUserInput = z.input<typeof createUserSchema>;
