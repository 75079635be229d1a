import { describe, expect, it, vi } from "vitest";
import { dbLabel, testDb, unique } from "../../../tests/db.ts";
import { issueAccessToken, requireBearer } from "../api/access-token.ts";
import * as rateLimit from "../api/rate-limit.ts";
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
const bearer = (t: { access_token: string }) =>
  requireBearer(new Request("http://pss.test/", { headers: { authorization: `Bearer ${t.access_token}` } }));

describe(`API client credentials (${dbLabel()})`, () => {
  it("rotation replaces the secret at once: the old one and its tokens are refused, the new one works", async () => {
    const c = await customer();
    // at the start of a second, so that the token and the rotation share it: no token time may let a token of the
    // replaced secret through
    while (Date.now() % 1000 > 200) await new Promise((r) => setTimeout(r, 10));
    const before = await token(c.client.clientId, c.client.clientSecret);
    await expect(bearer(before)).resolves.toMatchObject({ clientId: c.client.clientId });
    const rotated = await rotateClientSecret({ clientId: c.client.clientId, customerId: c.customer.id, actor: system });
    expect(rotated.clientSecret).not.toBe(c.client.clientSecret);
    await expect(token(c.client.clientId, c.client.clientSecret)).rejects.toMatchObject({ code: "invalid_client" });
    // a token issued with the replaced secret stops working too, even one of the rotation's own second
    await expect(bearer(before)).rejects.toMatchObject({ code: "invalid_token", status: 401 });
    const after = await token(c.client.clientId, rotated.clientSecret);
    await expect(bearer(after)).resolves.toMatchObject({ clientId: c.client.clientId });
  });

  it("no token requested with the old secret while a rotation commits is accepted afterwards", async () => {
    const c = await customer();
    while (Date.now() % 1000 > 200) await new Promise((r) => setTimeout(r, 10));
    const requests = Array.from({ length: 30 }, () => token(c.client.clientId, c.client.clientSecret));
    const rotation = rotateClientSecret({ clientId: c.client.clientId, customerId: c.customer.id, actor: system });
    const [settled, rotated] = await Promise.all([Promise.allSettled(requests), rotation]);
    for (const r of settled) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "invalid_client" });
    const issued = settled.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const accepted = (await Promise.allSettled(issued.map(bearer))).filter((r) => r.status === "fulfilled");
    expect({ issued: issued.length, accepted: accepted.length }).toMatchObject({ accepted: 0 });
    await expect(bearer(await token(c.client.clientId, rotated.clientSecret))).resolves.toMatchObject({ clientId: c.client.clientId });
  });

  it("a token request whose secret a rotation replaced after it was checked gets invalid_client, not a token", async () => {
    const c = await customer();
    const rotate = () => rotateClientSecret({ clientId: c.client.clientId, customerId: c.customer.id, actor: system });
    // the rotation commits between the request's read of the secret and its issuance (limitClient runs in between)
    const limit = vi.spyOn(rateLimit, "limitClient").mockImplementationOnce(async (...args) => {
      await rotate();
      return rateLimit.limitEach([[args[0], args[1]]]);
    });
    try {
      await expect(token(c.client.clientId, c.client.clientSecret)).rejects.toMatchObject({ code: "invalid_client", status: 401 });
      expect(limit).toHaveBeenCalledTimes(1);
    } finally {
      limit.mockRestore();
    }
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

  it("an admin mints secrets for viewers and for themself, never for another admin; disabling is open to every admin", async () => {
    const c = await customer();
    const me = await db.user.findUniqueOrThrow({ where: { uid: c.user.uid }, select: { id: true } });
    const actor = { type: "user", id: me.id, customerId: c.customer.id } as const;
    const add = (role: "CUSTOMER_ADMIN" | "CUSTOMER_VIEWER") =>
      createUser({ email: `${unique()}@c.test`, role, customerId: c.customer.id, password: "a-long-password-1" }, system, {
        withClient: true,
      });
    const [otherAdmin, viewer] = [await add("CUSTOMER_ADMIN"), await add("CUSTOMER_VIEWER")];
    const scope = { customerId: c.customer.id, actor };
    await expect(rotateClientSecret({ clientId: otherAdmin.client!.clientId, ...scope })).rejects.toMatchObject({
      code: "client_of_another_admin",
      status: 403,
    });
    await expect(createClient({ uid: otherAdmin.uid, ...scope })).rejects.toMatchObject({ code: "client_of_another_admin" });
    await expect(token(otherAdmin.client!.clientId, otherAdmin.client!.clientSecret)).resolves.toMatchObject({ token_type: "Bearer" });
    await expect(rotateClientSecret({ clientId: viewer.client!.clientId, ...scope })).resolves.toMatchObject({
      clientSecret: expect.any(String),
    });
    await expect(createClient({ uid: c.user.uid, ...scope })).resolves.toMatchObject({ clientSecret: expect.any(String) });
    await expect(disableClient({ clientId: otherAdmin.client!.clientId, ...scope })).resolves.toMatchObject({
      disabledAt: expect.any(Date),
    });
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
