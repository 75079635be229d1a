// The portal's "add user" action as a customer admin calls it (server actions are public POST endpoints): an
// address taken by any user — of another customer, or staff — is refused without saying so.
import { beforeAll, describe, expect, it, vi } from "vitest";
import { addUserAction } from "../app/(portal)/users/actions.ts";
import { IDLE } from "../lib/actions/action-state.ts";
import { ensureHierarchy } from "../lib/data/ca/hierarchy.ts";
import { createCustomer } from "../lib/data/customers/create-customer.ts";
import { dbLabel, testDb, unique } from "./db.ts";

vi.mock("server-only", () => ({}));
vi.mock("next/cache", () => ({ revalidatePath: () => {} }));
const me = { id: "", email: "", role: "CUSTOMER_ADMIN", customerId: "" };
vi.mock("../lib/auth/session.ts", () => ({ requireRole: async () => me, requireUser: async () => me }));

const db = testDb();
const system = { type: "system", id: "test" } as const;
let otherAdmin = "";

beforeAll(async () => {
  await ensureHierarchy(system);
  const onboard = (label: string) =>
    createCustomer(
      { name: unique(label).replace(/-/g, " "), adminEmail: `${unique()}@${label.toLowerCase()}.test`, adminPassword: "a-long-password-1" },
      system,
    );
  const [a, b] = [await onboard("Acme"), await onboard("Bravo")];
  const row = await db.user.findUniqueOrThrow({ where: { uid: a.user.uid }, select: { id: true, email: true } });
  Object.assign(me, { id: row.id, email: row.email, customerId: a.customer.id });
  otherAdmin = (await db.user.findUniqueOrThrow({ where: { uid: b.user.uid }, select: { email: true } })).email;
});

const form = (email: string) => {
  const f = new FormData();
  f.set("email", email);
  f.set("role", "CUSTOMER_VIEWER");
  return f;
};

describe(`add user as a customer admin (${dbLabel()})`, () => {
  it("another customer's address is refused without saying it exists; a new address is added", async () => {
    const taken = await addUserAction(IDLE, form(otherAdmin));
    expect(taken).toEqual({ status: "error", message: "This email address cannot be used for a new user." });
    expect(JSON.stringify(taken)).not.toContain(otherAdmin);
    const fresh = `${unique()}@acme-new.test`;
    expect(await addUserAction(IDLE, form(fresh))).toMatchObject({ status: "ok", data: { email: fresh } });
  });
});
