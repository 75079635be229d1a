// The portal's certificate page and PEM download take the serial from the URL: a malformed escape in it (a literal
// "%E0" once Next decoded "%25E0") is a certificate we do not have, a 404, never a URIError and a 500.
import { beforeAll, describe, expect, it, vi } from "vitest";
import CertificatePage from "../app/(portal)/certificates/[serial]/page.tsx";
import * as pemRoute from "../app/(portal)/certificates/[serial]/pem/route.ts";
import { ensureHierarchy } from "../lib/data/ca/hierarchy.ts";
import { issueAndStore } from "../lib/data/certificates/issue-certificate.ts";
import { createCustomer } from "../lib/data/customers/create-customer.ts";
import { createCsr } from "../lib/pki/csr.ts";
import { newPrivateKey } from "../lib/pki/keygen.ts";
import { OID_CN, OID_SERIAL_NUMBER } from "../lib/pki/names.ts";
import { dbLabel, testDb, unique } from "./db.ts";

vi.mock("server-only", () => ({}));
// a staff member signed in (the session's own checks are tested elsewhere)
vi.mock("../lib/auth/session.ts", () => ({
  requireUser: async () => ({ id: "00000000-0000-4000-8000-000000000000", email: "staff@example.test", role: "STAFF", customerId: null }),
}));

testDb();
const system = { type: "system", id: "test" } as const;
let serial = "";

beforeAll(async () => {
  await ensureHierarchy(system);
  const c = await createCustomer(
    { name: unique("Params").replace(/-/g, " "), adminEmail: `${unique()}@params.test`, adminPassword: "a-long-password-1" },
    system,
  );
  const key = newPrivateKey();
  const csr = createCsr({
    key,
    subject: [
      { oid: OID_CN, value: "dev-1", encoding: "utf8" },
      { oid: OID_SERIAL_NUMBER, value: "dev-1", encoding: "printable" },
    ],
  });
  serial = (await issueAndStore({ profile: "client-tls", csr, customerId: c.customer.id, uid: c.user.uid, actor: system })).serialHex;
});

const pem = (s: string) => pemRoute.GET(new Request(`http://portal.test/certificates/x/pem`), { params: Promise.resolve({ serial: s }) });
const page = (s: string) => CertificatePage({ params: Promise.resolve({ serial: s }) });
/** notFound() throws Next's 404 signal. */
const NOT_FOUND = expect.objectContaining({ digest: expect.stringMatching(/;404$/) });

describe(`portal certificate URLs (${dbLabel()})`, () => {
  it.each(["%E0", "%", "%25E0", "zz", "00%00"])("PEM of the serial %j: 404", async (s) => {
    expect((await pem(s)).status).toBe(404);
  });

  it("PEM of a certificate it has: 200, by the serial as Next hands it over (decoded)", async () => {
    const res = await pem(serial);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it.each(["%E0", "%", "%25E0", "zz"])("the page of the serial %j: not found", async (s) => {
    await expect(page(s)).rejects.toEqual(NOT_FOUND);
  });

  it("the page of a certificate it has renders, by the serial as Next hands it over (encoded)", async () => {
    await expect(page(encodeURIComponent(serial))).resolves.toBeTruthy();
  });
});
