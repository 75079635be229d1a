import { z } from "zod";
import { passwordSchema } from "./user.ts";

export const customerNameSchema = z
  .string()
  .trim()
  .min(2, "at least 2 characters")
  .max(64)
  .regex(/^[\p{L}\p{N} .,&'()-]+$/u, "letters, digits, spaces and . , & ' ( ) - only");

export const createCustomerSchema = z.object({
  name: customerNameSchema,
  adminEmail: z.email().transform((e) => e.toLowerCase()),
  adminPassword: passwordSchema.optional(),
});

export type CreateCustomerInput = z.input<typeof createCustomerSchema>;
