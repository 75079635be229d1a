import { randomUUID } from "node:crypto";
import { hashPassword } from "../../auth/password.ts";
import { db } from "../../db/client.ts";
import { AppError, isUniqueViolation } from "../../errors.ts";
import { type CreateUserInput, createUserSchema } from "../../validations/user.ts";
import { type Actor, audit } from "../audit/record.ts";
import { insertClient } from "../clients/manage-clients.ts";

export type CreatedUser = {
  id: string;
  uid: string;
  email: string;
  role: string;
  customerId: string | null;
  /** with `withClient`: the user's API client, its secret shown once */
  client?: { clientId: string; clientSecret: string };
};

/**
 * Create a portal/API user with a fresh UID (the value every certificate for this user carries in its SAN) and,
 * with `withClient`, a customer user's API client in the same transaction: never a user without the credentials
 * the admin was to be shown.
 */
export async function createUser(input: CreateUserInput, actor: Actor, opts: { withClient?: boolean } = {}): Promise<CreatedUser> {
  const data = createUserSchema.parse(input);
  if (data.customerId) {
    const customer = await db().customer.findUnique({ where: { id: data.customerId }, select: { id: true } });
    if (!customer) throw new AppError("customer_not_found", "No such customer.", 404);
  }
  const passwordHash = data.password ? await hashPassword(data.password) : null;
  try {
    return await db().$transaction(async (tx) => {
      const user = await tx.user.create({
        data: {
          uid: randomUUID(),
          email: data.email,
          role: data.role,
          customerId: data.customerId ?? null,
          passwordHash,
          name: data.name ?? null,
        },
        select: { id: true, uid: true, email: true, role: true, customerId: true },
      });
      await audit(tx, actor, {
        action: "user.create",
        customerId: user.customerId,
        target: `user:${user.uid}`,
        details: { email: user.email, role: user.role },
      });
      if (!opts.withClient) return user;
      if (!user.customerId) throw new AppError("client_needs_customer", "Only customer users have API clients.", 400);
      return { ...user, client: await insertClient(tx, { id: user.id, uid: user.uid, customerId: user.customerId }, actor) };
    });
  } catch (e) {
    if (isUniqueViolation(e)) throw new AppError("user_exists", `A user with email ${data.email} already exists.`, 409);
    throw e;
  }
}
