// Password sign-in: throttled per email address after repeated failures.
import { beforeAll, describe, expect, it, vi } from "vitest";
import { dbLabel, testDb, unique } from "../../tests/db.ts";
import { addToWindow } from "../data/api/rate-limit.ts";
import { ensureHierarchy } from "../data/ca/hierarchy.ts";
import { createCustomer } from "../data/customers/create-customer.ts";
import { authorizeCredentials, oidcUser, SIGN_IN_FAILURES } from "./options.ts";
import * as password from "./password.ts";

vi.mock("server-only", () => ({}));
const db = testDb();
const system = { type: "system", id: "test" } as const;
const PASSWORD = "a-long-password-1";
beforeAll(() => ensureHierarchy(system));

describe(`sign-in throttling (${dbLabel()})`, () => {
  it("after the failure limit an address is refused even with its password until the window ends; others are not", async () => {
    const email = `${unique()}@signin.test`;
    const other = `${unique()}@signin.test`;
    for (const adminEmail of [email, other])
      await createCustomer({ name: unique("Signin").replace(/-/g, " "), adminEmail, adminPassword: PASSWORD }, system);
    // the start of a fresh window, so the attempts below cannot straddle two
    const window = SIGN_IN_FAILURES.windowSeconds * 1000;
    const start = new Date(Math.ceil(Date.now() / window) * window + window);

    expect(await authorizeCredentials({ email, password: PASSWORD }, start)).toMatchObject({ email });
    for (let i = 0; i < SIGN_IN_FAILURES.limit; i++) expect(await authorizeCredentials({ email, password: "wrong" }, start)).toBeNull();
    expect(await authorizeCredentials({ email, password: PASSWORD }, start)).toBeNull();
    const last = await db.auditEvent.findFirstOrThrow({
      where: { action: "auth.sign_in", target: `user:${email}` },
      orderBy: { id: "desc" },
    });
    expect(last).toMatchObject({ outcome: "refused", details: { code: "rate_limited" } });
    // another address is unaffected; the next window lets the owner in again
    expect(await authorizeCredentials({ email: other, password: PASSWORD }, start)).toMatchObject({ email: other });
    expect(await authorizeCredentials({ email, password: PASSWORD }, new Date(start.getTime() + window))).toMatchObject({ email });
  });

  it("a burst of wrong passwords sent at once gets no more password checks than the limit has left", async () => {
    const email = `${unique()}@signin.test`;
    await createCustomer({ name: unique("Signin").replace(/-/g, " "), adminEmail: email, adminPassword: PASSWORD }, system);
    const window = SIGN_IN_FAILURES.windowSeconds * 1000;
    const start = new Date(Math.ceil(Date.now() / window) * window + window);
    // one failure short of the limit: exactly one more password may be checked in this window
    await addToWindow(`signin:${email}`, start, SIGN_IN_FAILURES.limit - 1);
    const verify = vi.spyOn(password, "verifyPassword");
    try {
      const burst = Array.from({ length: 20 }, () => authorizeCredentials({ email, password: "wrong" }, start));
      expect(await Promise.all(burst)).toEqual(Array(20).fill(null));
      expect(verify).toHaveBeenCalledTimes(1);
    } finally {
      verify.mockRestore();
    }
    const rows = await db.auditEvent.findMany({ where: { action: "auth.sign_in", target: `user:${email}` }, select: { details: true } });
    expect(rows.filter((r) => (r.details as { code?: string } | null)?.code === "rate_limited")).toHaveLength(19);
    // the owner's password works in the next window
    expect(await authorizeCredentials({ email, password: PASSWORD }, new Date(start.getTime() + window))).toMatchObject({ email });
  });

  it("a successful sign-in gives its attempt back: the owner's sign-ins never use up the failure limit", async () => {
    const email = `${unique()}@signin.test`;
    await createCustomer({ name: unique("Signin").replace(/-/g, " "), adminEmail: email, adminPassword: PASSWORD }, system);
    const window = SIGN_IN_FAILURES.windowSeconds * 1000;
    const start = new Date(Math.ceil(Date.now() / window) * window + window);
    for (let i = 0; i < SIGN_IN_FAILURES.limit + 2; i++)
      expect(await authorizeCredentials({ email, password: PASSWORD }, start)).toMatchObject({ email });
    for (let i = 0; i < SIGN_IN_FAILURES.limit - 1; i++) expect(await authorizeCredentials({ email, password: "wrong" }, start)).toBeNull();
    expect(await authorizeCredentials({ email, password: PASSWORD }, start)).toMatchObject({ email });
  });

  it("an unknown address is refused after a password check like a known one", async () => {
    expect(await authorizeCredentials({ email: `${unique()}@nobody.test`, password: PASSWORD })).toBeNull();
  });
});

describe(`single sign-on (${dbLabel()})`, () => {
  it("maps an identity to its PSS user only by an email address the IdP verified", async () => {
    const email = `${unique()}@sso.test`;
    await createCustomer({ name: unique("Sso").replace(/-/g, " "), adminEmail: email, adminPassword: PASSWORD }, system);
    await expect(oidcUser({ email, email_verified: true })).resolves.toMatchObject({ email, role: "CUSTOMER_ADMIN" });
    await expect(oidcUser({ email: email.toUpperCase(), email_verified: "true" })).resolves.toMatchObject({ email });
    await expect(oidcUser({ email, email_verified: false })).rejects.toThrow("not verified");
    await expect(oidcUser({ email })).rejects.toThrow("not verified");
    await expect(oidcUser({ email: `${unique()}@sso.test`, email_verified: true })).rejects.toThrow("no PSS account");
  });
});
