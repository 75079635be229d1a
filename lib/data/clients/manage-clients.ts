// API client credentials of customer users (SPEC §4): created per user, the secret shown once and stored only
// as a hash; rotation replaces the secret at once (the old one stops working); disabling refuses the client.
import { db, type Tx } from "../../db/client.ts";
import { AppError } from "../../errors.ts";
import { type Actor, audit } from "../audit/record.ts";
import { newClientCredentials } from "./secrets.ts";

/** `customerId`: the tenant the caller acts for (null = staff, any customer). */
async function clientInScope(clientId: string, customerId: string | null) {
  const client = await db().oAuthClient.findUnique({
    where: { clientId },
    select: { id: true, clientId: true, customerId: true, disabledAt: true, user: { select: { id: true, role: true } } },
  });
  if (!client || (customerId !== null && client.customerId !== customerId))
    throw new AppError("client_not_found", "No such API client.", 404);
  return client;
}

/**
 * A new secret of an admin's API identity goes to that admin only: another customer admin who got one could act
 * in the API, and have certificates issued, under that admin's UID. Viewers' clients are any admin's to manage;
 * staff and the CLI act for the operator. Disabling returns no secret and stays open to every admin.
 */
function checkSecretRecipient(actor: Actor, owner: { id: string; role: string }) {
  if (actor.type === "user" && actor.customerId && owner.role === "CUSTOMER_ADMIN" && owner.id !== actor.id)
    throw new AppError("client_of_another_admin", "Only that admin may create or rotate their own API credentials.", 403);
}

/** Insert an API client for a customer user inside the caller's transaction (audited); returns the secret once. */
export async function insertClient(tx: Tx, user: { id: string; uid: string; customerId: string }, actor: Actor) {
  const creds = newClientCredentials();
  await tx.oAuthClient.create({
    data: { clientId: creds.clientId, secretHash: creds.secretHash, userId: user.id, customerId: user.customerId },
  });
  await audit(tx, actor, {
    action: "client.create",
    customerId: user.customerId,
    target: `client:${creds.clientId}`,
    details: { uid: user.uid },
  });
  return { clientId: creds.clientId, clientSecret: creds.clientSecret };
}

/** A further API client for a customer user; returns the secret once. */
export async function createClient(input: { uid: string; customerId: string | null; actor: Actor }) {
  const user = await db().user.findUnique({
    where: { uid: input.uid },
    select: { id: true, role: true, customerId: true, disabledAt: true },
  });
  if (!user?.customerId || (input.customerId !== null && user.customerId !== input.customerId))
    throw new AppError("user_not_found", "No such user.", 404);
  if (user.disabledAt) throw new AppError("user_disabled", "This user is disabled.", 409);
  checkSecretRecipient(input.actor, user);
  const customerId = user.customerId;
  return db().$transaction((tx) => insertClient(tx, { id: user.id, uid: input.uid, customerId }, input.actor));
}

/** Replace a client's secret; the old secret and the tokens issued with it stop working at once. Returns the new secret once. */
export async function rotateClientSecret(input: { clientId: string; customerId: string | null; actor: Actor }) {
  const client = await clientInScope(input.clientId, input.customerId);
  if (client.disabledAt) throw new AppError("client_disabled", "This API client is disabled.", 409);
  checkSecretRecipient(input.actor, client.user);
  const { clientSecret, secretHash } = newClientCredentials();
  await db().$transaction(async (tx) => {
    await tx.oAuthClient.update({ where: { id: client.id }, data: { secretHash, secretRotatedAt: new Date() } });
    await audit(tx, input.actor, { action: "client.rotate_secret", customerId: client.customerId, target: `client:${client.clientId}` });
  });
  return { clientId: client.clientId, clientSecret };
}

/** Disable a client: its secret is refused from now on (tokens already issued expire within 15 minutes and are re-checked per request). */
export async function disableClient(input: { clientId: string; customerId: string | null; actor: Actor }) {
  const client = await clientInScope(input.clientId, input.customerId);
  if (client.disabledAt) return { clientId: client.clientId, disabledAt: client.disabledAt };
  const disabledAt = new Date();
  await db().$transaction(async (tx) => {
    await tx.oAuthClient.update({ where: { id: client.id }, data: { disabledAt } });
    await audit(tx, input.actor, { action: "client.disable", customerId: client.customerId, target: `client:${client.clientId}` });
  });
  return { clientId: client.clientId, disabledAt };
}

/** A customer's users with their API clients (never secrets). */
export async function listCustomerUsers(customerId: string) {
  return db().user.findMany({
    where: { customerId },
    orderBy: { createdAt: "asc" },
    select: {
      id: true,
      uid: true,
      email: true,
      role: true,
      createdAt: true,
      disabledAt: true,
      clients: { orderBy: { createdAt: "asc" }, select: { clientId: true, createdAt: true, lastUsedAt: true, disabledAt: true } },
    },
  });
}
