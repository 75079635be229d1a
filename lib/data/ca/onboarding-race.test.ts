// A CA created under a parent that a revocation took away meanwhile: onboarding (or a rotation) reads the active
// parent, then signs and stores the new CA; a revocation of that parent committing in between must not leave the
// new CA active under a revoked parent (its devices would be refused until staff stepped in). Its own database:
// the revocation of the TLS Intermediate reaches every customer's CAs.
import { describe, expect, it } from "vitest";
import { dbLabel, testDb, unique } from "../../../tests/db.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { revokeCa } from "../revocation/revoke-ca.ts";
import { activeCa, createCa, ensureHierarchy } from "./hierarchy.ts";

const db = testDb({ own: true });
const system = { type: "system", id: "test" } as const;

describe(`a CA's parent revoked while the CA is being created (${dbLabel()})`, () => {
  it("the new CA is refused (ca_parent_changed), nothing is stored; onboarding again lands under the new parent", async () => {
    await ensureHierarchy(system);
    const name = unique("Race").replace(/-/g, " ");
    const c = await createCustomer({ name, adminEmail: `${unique()}@race.test`, adminPassword: "a-long-password-1" }, system);
    const scope = { kind: "CUSTOMER_TLS_ISSUING" as const, customerId: c.customer.id };
    // what onboarding or a rotation read before the revocation committed
    const parent = await activeCa({ kind: "TLS_INTERMEDIATE" });
    await revokeCa({ caId: parent.ca.id, reason: "keyCompromise", actor: system });
    const before = await db.certificateAuthority.count();
    await expect(db.$transaction((tx) => createCa(tx, scope, parent, name))).rejects.toMatchObject({
      code: "ca_parent_changed",
      status: 409,
    });
    expect(await db.certificateAuthority.count()).toBe(before);
    // onboarding now (a retry) lands under the new intermediate
    const later = await createCustomer(
      { name: unique("Race").replace(/-/g, " "), adminEmail: `${unique()}@race.test`, adminPassword: "a-long-password-1" },
      system,
    );
    const { ca } = await activeCa({ kind: "CUSTOMER_TLS_ISSUING", customerId: later.customer.id });
    expect(ca.parentId).toBe((await activeCa({ kind: "TLS_INTERMEDIATE" })).ca.id);
    expect(ca.parentId).not.toBe(parent.ca.id);
    // nothing anywhere is active under a revoked parent
    const cas = await db.certificateAuthority.findMany({ select: { id: true, status: true, parentId: true, subject: true } });
    const byId = new Map(cas.map((x) => [x.id, x]));
    expect(
      cas.filter((x) => x.status === "ACTIVE" && x.parentId && byId.get(x.parentId)?.status === "REVOKED").map((x) => x.subject),
    ).toEqual([]);
  });
});
