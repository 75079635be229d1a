import { randomUUID } from "node:crypto";
import { generatePassword, hashPassword } from "../../auth/password.ts";
import { db } from "../../db/client.ts";
import { AppError, isUniqueViolation } from "../../errors.ts";
import { type CreateCustomerInput, createCustomerSchema } from "../../validations/customer.ts";
import { type Actor, audit } from "../audit/record.ts";
import { createCustomerCas } from "../ca/hierarchy.ts";
import { newClientCredentials } from "../clients/secrets.ts";

export type OnboardedCustomer = {
  customer: { id: string; name: string };
  user: { uid: string; email: string; role: "CUSTOMER_ADMIN" };
  client: { clientId: string; clientSecret: string };
  /** only when no password was given: shown once */
  generatedPassword?: string;
};

/**
 * Onboard a customer: the customer, its first admin user (with UID), that user's API client credentials
 * and the customer's CAs (TLS Issuing CA, Application CAs), in one transaction. The client secret (and a generated password) are returned once.
 */
export async function createCustomer(input: CreateCustomerInput, actor: Actor): Promise<OnboardedCustomer> {
  const data = createCustomerSchema.parse(input);
  const generatedPassword = data.adminPassword ? undefined : generatePassword();
  const passwordHash = await hashPassword(data.adminPassword ?? generatedPassword!);
  const creds = newClientCredentials();
  try {
    return await db().$transaction(
      async (tx) => {
        const customer = await tx.customer.create({ data: { name: data.name }, select: { id: true, name: true } });
        const user = await tx.user.create({
          data: { uid: randomUUID(), email: data.adminEmail, role: "CUSTOMER_ADMIN", customerId: customer.id, passwordHash },
          select: { id: true, uid: true, email: true },
        });
        await tx.oAuthClient.create({
          data: { clientId: creds.clientId, secretHash: creds.secretHash, userId: user.id, customerId: customer.id },
        });
        await createCustomerCas(tx, customer, actor);
        await audit(tx, actor, {
          action: "customer.create",
          customerId: customer.id,
          target: `customer:${customer.id}`,
          details: { name: customer.name, admin: user.email },
        });
        return {
          customer,
          user: { uid: user.uid, email: user.email, role: "CUSTOMER_ADMIN" as const },
          client: { clientId: creds.clientId, clientSecret: creds.clientSecret },
          generatedPassword,
        };
      },
      { timeout: 60_000 },
    );
  } catch (e) {
    if (isUniqueViolation(e))
      throw new AppError("customer_exists", "A customer with that name, or a user with that email, already exists.", 409);
    throw e;
  }
}
