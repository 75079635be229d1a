// Test helpers for the enrollment use cases called directly (no TLS): a customer with a bootstrapping certificate,
// a device's CSR, and the identity the device authorizer gives a certificate (as the listener would after TLS).
import { unique } from "../../../tests/db.ts";
import { createCsr } from "../../pki/csr.ts";
import { newPrivateKey } from "../../pki/keygen.ts";
import { OID_SERIAL_NUMBER } from "../../pki/names.ts";
import { ensureHierarchy } from "../ca/hierarchy.ts";
import { issueAndStore } from "../certificates/issue-certificate.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { authorizeDevice } from "../devices/authorize.ts";

const system = { type: "system", id: "test" } as const;

/** A device's PKCS#10 request for a new key, naming `deviceId` as its subject serialNumber. */
export const deviceCsr = (deviceId: string) =>
  createCsr({ key: newPrivateKey(), subject: [{ oid: OID_SERIAL_NUMBER, value: deviceId, encoding: "printable" }] });

/** The authorizer's answer for a certificate presented over TLS (its chain verified by the TLS layer). */
export const identityOf = (der: Uint8Array, now?: Date) =>
  authorizeDevice({ leaf: Buffer.from(der), presented: () => [], tlsAuthorized: true, ...(now ? { now } : {}) });

/** A new customer (named after `label`) and a bootstrapping certificate of its admin. */
export async function customerWithBootstrap(label = "Enroll") {
  await ensureHierarchy(system);
  const c = await createCustomer(
    { name: unique(label).replace(/-/g, " "), adminEmail: `${unique()}@${label.toLowerCase()}.test`, adminPassword: "a-long-password-1" },
    system,
  );
  const boot = await issueAndStore({
    profile: "bootstrap",
    csr: createCsr({ key: newPrivateKey() }),
    customerId: c.customer.id,
    uid: c.user.uid,
    actor: system,
  });
  return { c, boot };
}
