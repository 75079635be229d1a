import { z } from "zod";
import { portalReasonSchema } from "./revocation.ts";

export const caIdSchema = z.uuid("not a CA id");

export const rotateCaSchema = z.object({ caId: caIdSchema });

/** Revoking a customer TLS issuing CA: the staff member types the customer's name to confirm. */
export const revokeCaSchema = z.object({
  caId: caIdSchema,
  reason: portalReasonSchema.default("cessationOfOperation"),
  revokeBootstrap: z.enum(["on", "off"]).default("off"),
  confirmName: z.string().trim().min(1, "type the customer name to confirm"),
});

const pem = (what: string) =>
  z
    .string()
    .trim()
    .max(64 * 1024, `${what} is too long`)
    .refine((v) => v.includes("-----BEGIN CERTIFICATE-----"), `${what}: paste PEM (BEGIN CERTIFICATE)`);

/** Staff: a CSR for a customer's application CA that the customer's own CA signs (SPEC §2). */
export const requestExternalCaSchema = z.object({
  customerId: z.uuid("not a customer id"),
  application: z.enum(["c2pa"]).default("c2pa"),
});

/** Staff: the certificate the customer's CA signed, and their chain up to their root. */
export const importExternalCaSchema = z.object({
  pendingId: z.uuid("not a pending request id"),
  certPem: pem("The CA certificate"),
  chainPem: pem("The chain"),
});
