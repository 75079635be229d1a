import { describe, expect, it, vi } from "vitest";
import { dbLabel, testDb, unique } from "../../../tests/db.ts";
import { issueAccessToken } from "../api/access-token.ts";
import { ensureHierarchy } from "../ca/hierarchy.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { createUser } from "../users/create-user.ts";
import { createClient, disableClient, listCustomerUsers, rotateClientSecret } from "./manage-clients.ts";

vi.mock("server-only", () => ({}));
const db = testDb();
const system = { type: "system", id: "test" } as const;

async function customer() {
  await ensureHierarchy(system);
  return createCustomer(
    { name: unique("Clients").replace(/-/g, " "), adminEmail: `${unique()}@c.test`, adminPassword: "a-long-password-1" },
    system,
  );
}

const token = (clientId: string, clientSecret: string) => issueAccessToken({ grantType: "client_credentials", clientId, clientSecret });

describe(`API client credentials (${dbLabel()})`, () => {
  it("rotation replaces the secret at once: the old one is refused, the new one works", async () => {
    const c = await customer();
    await expect(token(c.client.clientId, c.client.clientSecret)).resolves.toMatchObject({ token_type: "Bearer" });
    const rotated = await rotateClientSecret({ clientId: c.client.clientId, customerId: c.customer.id, actor: system });
    expect(rotated.clientSecret).not.toBe(c.client.clientSecret);
    await expect(token(c.client.clientId, c.client.clientSecret)).rejects.toMatchObject({ code: "invalid_client" });
    await expect(token(c.client.clientId, rotated.clientSecret)).resolves.toMatchObject({ token_type: "Bearer" });
  });

  it("a user added with API credentials gets both in one transaction, or neither", async () => {
    const c = await customer();
    const email = `${unique()}@c.test`;
    const user = await createUser({ email, role: "CUSTOMER_VIEWER", customerId: c.customer.id, password: "a-long-password-1" }, system, {
      withClient: true,
    });
    await expect(token(user.client!.clientId, user.client!.clientSecret)).resolves.toMatchObject({ token_type: "Bearer" });
    // a staff user has no API client: refused, and the user is not left behind
    const staffEmail = `${unique()}@staff.test`;
    await expect(
      createUser({ email: staffEmail, role: "STAFF", password: "a-long-password-1" }, system, { withClient: true }),
    ).rejects.toMatchObject({ code: "client_needs_customer" });
    expect(await db.user.count({ where: { email: staffEmail } })).toBe(0);
  });

  it("another customer's client answers 404 and stays unchanged; a disabled client is refused", async () => {
    const a = await customer();
    const b = await customer();
    await expect(rotateClientSecret({ clientId: a.client.clientId, customerId: b.customer.id, actor: system })).rejects.toMatchObject({
      status: 404,
    });
    await expect(disableClient({ clientId: a.client.clientId, customerId: b.customer.id, actor: system })).rejects.toMatchObject({
      status: 404,
    });
    await expect(token(a.client.clientId, a.client.clientSecret)).resolves.toBeDefined();
    await disableClient({ clientId: a.client.clientId, customerId: a.customer.id, actor: system });
    await expect(token(a.client.clientId, a.client.clientSecret)).rejects.toMatchObject({ code: "invalid_client" });
  });

  it("a user may hold several clients; listing never exposes secrets", async () => {
    const c = await customer();
    const extra = await createClient({ uid: c.user.uid, customerId: c.customer.id, actor: system });
    await expect(token(extra.clientId, extra.clientSecret)).resolves.toBeDefined();
    const users = await listCustomerUsers(c.customer.id);
    expect(users[0].clients.map((x) => x.clientId).sort()).toEqual([c.client.clientId, extra.clientId].sort());
    expect(JSON.stringify(users)).not.toContain(extra.clientSecret);
    expect(JSON.stringify(users)).not.toContain("secretHash");
  });
});
