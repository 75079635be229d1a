// EST /cacerts content (RFC 7030 §4.1): leaf-most first, the newest active generation of each CA, the
// caller's customer's issuing CA only when asked with its certificate. Runs on PGlite and PostgreSQL.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { dbLabel, testDb, unique } from "../../../tests/db.ts";
import { toPem } from "../../pki/der.ts";
import { activeCa, ensureHierarchy, rotateCa } from "../ca/hierarchy.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { estCaCerts } from "./ca-certs.ts";

// a database of its own on PostgreSQL too: rotating the shared TLS Intermediate would race other files' issuance
testDb({ own: true });
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

  it("after the TLS Intermediate rotates, a customer's CA comes with the intermediate that issued it, then the active one", async () => {
    await ensureHierarchy(system);
    const c = await createCustomer(
      { name: unique("Cacerts Rot").replace(/-/g, " "), adminEmail: `${unique()}@cacerts.test`, adminPassword: "a-long-password-1" },
      system,
    );
    const tlsIssuing = await activeCa({ kind: "CUSTOMER_TLS_ISSUING", customerId: c.customer.id });
    const c2pa = await activeCa({ kind: "APPLICATION", customerId: c.customer.id, application: "c2pa" });
    const old = await activeCa({ kind: "TLS_INTERMEDIATE" });
    const root = Buffer.from((await activeCa({ kind: "ROOT" })).ca.certDer);
    const { active } = await rotateCa(old.ca.id, system);
    const [oldDer, newDer] = [Buffer.from(old.ca.certDer), Buffer.from(active.certDer)];
    expect(await estCaCerts({})).toEqual([newDer, root]);
    const forDevice = await estCaCerts({ customerId: c.customer.id });
    expect(forDevice).toEqual([Buffer.from(tlsIssuing.ca.certDer), oldDer, newDer, root]);
    expect(await estCaCerts({ customerId: c.customer.id, profile: "c2pa" })).toEqual([Buffer.from(c2pa.ca.certDer), oldDer, newDer, root]);
    // the customer's CA still verifies with what /cacerts gave (openssl, the root as the only anchor)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-cacerts-"));
    try {
      const pem = (ders: Buffer[]) => ders.map((d) => toPem("CERTIFICATE", d)).join("");
      fs.writeFileSync(path.join(dir, "root.pem"), pem([root]));
      fs.writeFileSync(path.join(dir, "untrusted.pem"), pem(forDevice.slice(1, -1)));
      fs.writeFileSync(path.join(dir, "ca.pem"), pem([forDevice[0]]));
      const out = execFileSync("openssl", ["verify", "-CAfile", "root.pem", "-untrusted", "untrusted.pem", "ca.pem"], {
        cwd: dir,
        encoding: "utf8",
      });
      expect(out.trim()).toBe("ca.pem: OK");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses an unknown EST label", async () => {
    await expect(estCaCerts({ profile: "nope" })).rejects.toMatchObject({ code: "profile_unknown", status: 404 });
  });
});
