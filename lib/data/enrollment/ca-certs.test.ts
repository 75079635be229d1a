// EST /cacerts content (RFC 7030 §4.1): leaf-most first, the newest active generation of each CA, the
// caller's customer's issuing CA only when asked with its certificate. Runs on PGlite and PostgreSQL.
import { describe, expect, it } from "vitest";
import { dbLabel, testDb, unique } from "../../../tests/db.ts";
import { activeCa, ensureHierarchy, rotateCa } from "../ca/hierarchy.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { estCaCerts } from "./ca-certs.ts";

testDb();
const system = { type: "system", id: "test" } as const;

describe(`EST cacerts (${dbLabel()})`, () => {
  it("lists the customer's active issuing CA of the path, then the TLS Intermediate and the root", async () => {
    await ensureHierarchy(system);
    const c = await createCustomer(
      { name: unique("Cacerts").replace(/-/g, " "), adminEmail: `${unique()}@cacerts.test`, adminPassword: "a-long-password-1" },
      system,
    );
    const [intermediate, root] = await Promise.all([activeCa({ kind: "TLS_INTERMEDIATE" }), activeCa({ kind: "ROOT" })]);
    const tlsIssuing = await activeCa({ kind: "CUSTOMER_TLS_ISSUING", customerId: c.customer.id });
    const c2pa = await activeCa({ kind: "APPLICATION", customerId: c.customer.id, application: "c2pa" });
    const der = (ca: { ca: { certDer: Uint8Array } }) => Buffer.from(ca.ca.certDer);

    expect(await estCaCerts({})).toEqual([der(intermediate), der(root)]);
    expect(await estCaCerts({ customerId: c.customer.id })).toEqual([der(tlsIssuing), der(intermediate), der(root)]);
    expect(await estCaCerts({ customerId: c.customer.id, profile: "c2pa" })).toEqual([der(c2pa), der(intermediate), der(root)]);

    // after a rotation, the new generation only
    const { active } = await rotateCa(tlsIssuing.ca.id, system);
    expect(active.generation).toBe(tlsIssuing.ca.generation + 1);
    expect(await estCaCerts({ customerId: c.customer.id })).toEqual([Buffer.from(active.certDer), der(intermediate), der(root)]);
  });

  it("refuses an unknown EST label", async () => {
    await expect(estCaCerts({ profile: "nope" })).rejects.toMatchObject({ code: "profile_unknown", status: 404 });
  });
});
