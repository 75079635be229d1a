// An application CA under a customer-supplied parent (SPEC §2), against a real database: the customer's CA is
// openssl (a root and an intermediate made here), which signs the CSR we hand out; the imported CA issues C2PA
// certificates that openssl verifies up to the customer's root, and signs CRLs openssl accepts. Every refusal
// leaves the request pending and no CA behind.
import { generateKeyPairSync } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { testDb, unique } from "../../../tests/db.ts";
import { createCsr } from "../../pki/csr.ts";
import { toPem } from "../../pki/der.ts";
import { OID_CN } from "../../pki/names.ts";
import { openssl, scratchDir } from "../../pki/testing/ca-fixture.ts";
import { issueAndStore } from "../certificates/issue-certificate.ts";
import { createCustomer } from "../customers/create-customer.ts";
import { estCaCerts } from "../enrollment/ca-certs.ts";
import { publishCrl } from "../revocation/crl.ts";
import { revokeCa } from "../revocation/revoke-ca.ts";
import { revokeCertificate } from "../revocation/revoke-certificate.ts";
import { chainOf } from "./chain.ts";
import { importExternalApplicationCa, listExternalCas, requestExternalApplicationCa } from "./external-ca.ts";
import { ensureHierarchy, rotateCa, rotateDueCas } from "./hierarchy.ts";
import { listCas } from "./list-cas.ts";

// its own database on PostgreSQL too: rotateDueCas rotates every due CA in the database, other files' too
const db = testDb({ own: true });
const system = { type: "system", id: "test" } as const;
const dir = scratchDir();
afterAll(() => dir.cleanup());

function run(args: string[]): string {
  const r = openssl(args);
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed: ${r.out}`);
  return r.out;
}

const IDS = "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";
const CA_EXT = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"];

/** The customer's own PKI: a root and an intermediate under it, made by openssl. */
function customerPki(name: string, rootExt: string[] = CA_EXT) {
  const f = (n: string) => `${dir.dir}/${name}-${n}`;
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    f("root.key"),
    "-out",
    f("root.pem"),
    "-subj",
    `/O=${name}/CN=${name} Root`,
    "-days",
    "3650",
    ...rootExt,
  ]);
  run(["req", "-new", ...ec, "-keyout", f("int.key"), "-out", f("int.csr"), "-subj", `/O=${name}/CN=${name} Content CA`]);
  dir.write(
    `${name}-int.ext`,
    "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
  );
  run([
    "x509",
    "-req",
    "-in",
    f("int.csr"),
    "-CA",
    f("root.pem"),
    "-CAkey",
    f("root.key"),
    "-extfile",
    f("int.ext"),
    "-days",
    "3000",
    "-out",
    f("int.pem"),
  ]);
  return { root: f("root.pem"), rootKey: f("root.key"), int: f("int.pem"), intKey: f("int.key") };
}

/** The customer's intermediate signs our CSR: extensions as requested, plus key identifiers (or `ext` instead). */
function sign(csrPem: string, by: { cert: string; key: string }, opts: { ext?: string; extra?: string[] } = {}): string {
  const tag = unique("sig");
  const csr = dir.write(`${tag}.csr`, csrPem);
  const ext = dir.write(`${tag}.ext`, opts.ext ?? "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
  const out = `${dir.dir}/${tag}.pem`;
  const copy = opts.ext ? [] : ["-copy_extensions", "copy"];
  run([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    by.cert,
    "-CAkey",
    by.key,
    ...copy,
    "-extfile",
    ext,
    "-days",
    "1825",
    "-out",
    out,
    ...(opts.extra ?? []),
  ]);
  return run(["x509", "-in", out]);
}

const read = (file: string) => run(["x509", "-in", file]);

async function onboard() {
  await ensureHierarchy(system);
  return createCustomer(
    { name: unique("Signed").replace(/-/g, " "), adminEmail: `${unique()}@signed.test`, adminPassword: "a-long-password-1" },
    system,
  );
}

describe("application CA under a customer-supplied parent", () => {
  it("request, customer signs, import: C2PA certificates chain to the customer's root; CRLs verify; rotation is the customer's", async () => {
    const c = await onboard();
    const pki = customerPki("Studio");
    const req = await requestExternalApplicationCa({ customerId: c.customer.id, application: "c2pa", actor: system });
    expect(req.subject).toMatch(/ G2$/); // G1 is the application CA onboarding made under our TLS Intermediate
    // the CSR asks for what the certificate must carry, and verifies (openssl)
    const text = run(["req", "-in", dir.write("req.csr", req.csrPem), "-noout", "-text", "-verify"]);
    expect(text).toContain("CA:TRUE, pathlen:0");
    expect(text).toContain("Certificate Sign, CRL Sign");

    const certPem = sign(req.csrPem, { cert: pki.int, key: pki.intKey });
    const ca = await importExternalApplicationCa({
      pendingId: req.pendingId,
      certPem,
      chainPem: read(pki.int) + read(pki.root),
      actor: system,
    });
    expect(ca).toMatchObject({ kind: "APPLICATION", profile: "c2pa", parentId: null, status: "ACTIVE", generation: 2 });
    const cas = await listCas({ customerId: c.customer.id });
    expect(cas.filter((x) => x.kind === "APPLICATION").map((x) => [x.generation, x.status])).toEqual([
      [1, "RETIRED"],
      [2, "ACTIVE"],
    ]);
    expect(await db.pendingCa.count({ where: { customerId: c.customer.id } })).toBe(0);
    expect(await db.auditEvent.count({ where: { action: "ca.external.import", target: `ca:${ca.id}` } })).toBe(1);

    // a C2PA certificate from it: the chain ends at the customer's root, and openssl agrees
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const issued = await issueAndStore({
      profile: "c2pa",
      csr: createCsr({ key: privateKey, subject: [{ oid: OID_CN, value: "cam-7", encoding: "utf8" }] }),
      deviceId: "cam-7",
      customerId: c.customer.id,
      uid: c.user.uid,
      actor: system,
    });
    const chain = await chainOf(ca.id);
    expect(chain.at(-1)).toBe(read(pki.root));
    const verified = run([
      "verify",
      "-x509_strict",
      "-CAfile",
      pki.root,
      "-untrusted",
      dir.write("untrusted.pem", chain.slice(0, -1).join("")),
      dir.write("c2pa.pem", issued.pem),
    ]);
    expect(verified).toContain("c2pa.pem: OK");
    // EST c2pa/cacerts gives devices the same path, then our TLS Intermediate and root (the EST server's anchors)
    const cacerts = (await estCaCerts({ profile: "c2pa", customerId: c.customer.id })).map((d) => toPem("CERTIFICATE", d));
    expect(cacerts.slice(0, chain.length)).toEqual(chain);
    expect(cacerts.slice(chain.length)).toEqual((await estCaCerts({})).map((d) => toPem("CERTIFICATE", d)));

    // revocation: its CRL, signed with our key, verifies under the imported certificate
    await revokeCertificate({ serial: issued.serialHex, reason: "keyCompromise", actor: system });
    const crl = await db.crl.findFirstOrThrow({ where: { caId: ca.id }, orderBy: { number: "desc" } });
    const crlText = run([
      "crl",
      "-inform",
      "DER",
      "-in",
      dir.write("app.crl", crl.der),
      "-CAfile",
      dir.write("app.pem", chain[0]),
      "-noout",
      "-verify",
      "-text",
    ]);
    expect(crlText).toContain("Key Compromise");
    await expect(publishCrl(ca.id)).resolves.toBeDefined();

    // only the customer's CA can make its next generation
    await expect(rotateCa(ca.id, system)).rejects.toMatchObject({ code: "ca_external_parent" });
    // near its end it is listed as due, and the scheduled check leaves it to the customer (row dated, not the clock:
    // a clock years ahead would rotate the shared hierarchy)
    await db.certificateAuthority.update({ where: { id: ca.id }, data: { notAfter: new Date(Date.now() + 100 * 86_400_000) } });
    expect((await listCas({ customerId: c.customer.id })).find((x) => x.id === ca.id)?.rotationDue).toMatch(/left/);
    const due = await rotateDueCas(system);
    expect(due.rotated.map((r) => r.subject)).not.toContain(ca.subject);
    expect((await db.certificateAuthority.findUniqueOrThrow({ where: { id: ca.id } })).status).toBe("ACTIVE");
  });

  it.each<[string, (c: Ctx) => { certPem: string; chainPem?: string; now?: Date; rootSha256?: string }, string]>([
    ["a certificate for another key", (c) => ({ certPem: sign(c.otherCsr, c.by), chainPem: c.chain }), "external_ca_key_mismatch"],
    [
      "another subject",
      (c) => ({ certPem: sign(c.csrPem, c.by, { extra: ["-subj", "/O=Else/CN=Else CA"] }), chainPem: c.chain }),
      "external_ca_subject_mismatch",
    ],
    ["no chain", (c) => ({ certPem: sign(c.csrPem, c.by) }), "external_ca_chain_incomplete"],
    ["a chain without the root", (c) => ({ certPem: sign(c.csrPem, c.by), chainPem: read(c.pki.int) }), "external_ca_chain_incomplete"],
    [
      "another customer's root",
      (c) => ({ certPem: sign(c.csrPem, c.by), chainPem: read(c.pki.int) + read(c.stranger.root) }),
      "chain_untrusted",
    ],
    [
      "a CA:FALSE certificate",
      (c) => ({
        certPem: sign(c.csrPem, c.by, { ext: "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n" }),
        chainPem: c.chain,
      }),
      "ca_flag_missing",
    ],
    [
      "no cRLSign",
      (c) => ({
        certPem: sign(c.csrPem, c.by, { ext: "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign\n" }),
        chainPem: c.chain,
      }),
      "ca_key_usage_missing",
    ],
    [
      "an EKU without documentSigning",
      (c) => ({
        certPem: sign(c.csrPem, c.by, {
          ext: "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nextendedKeyUsage=clientAuth\n",
        }),
        chainPem: c.chain,
      }),
      "eku_missing",
    ],
    [
      "a parent whose path length forbids it",
      (c) => ({ certPem: sign(c.csrPem, { cert: c.tight.root, key: c.tight.rootKey }), chainPem: read(c.tight.root) }),
      "path_length_exceeded",
    ],
    [
      "a certificate past its end",
      (c) => ({ certPem: sign(c.csrPem, c.by), chainPem: c.chain, now: new Date(Date.now() + 6 * 365 * 86_400_000) }),
      "cert_expired",
    ],
    ["no certificate at all", (c) => ({ certPem: "not a PEM", chainPem: c.chain }), "external_ca_malformed"],
    [
      "no subjectKeyIdentifier",
      (c) => ({
        certPem: sign(c.csrPem, c.by, {
          ext: "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=none\nauthorityKeyIdentifier=none\n",
        }),
        chainPem: c.chain,
      }),
      "external_ca_ski_missing",
    ],
    [
      "no path length limit",
      (c) => ({
        certPem: sign(c.csrPem, c.by, { ext: `basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n${IDS}` }),
        chainPem: c.chain,
      }),
      "external_ca_constraints",
    ],
    [
      "a non-critical basicConstraints",
      (c) => ({
        certPem: sign(c.csrPem, c.by, { ext: `basicConstraints=CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n${IDS}` }),
        chainPem: c.chain,
      }),
      "external_ca_constraints",
    ],
    [
      "a CA that outlives its issuer",
      (c) => ({ certPem: sign(c.csrPem, c.by, { extra: ["-days", "5000"] }), chainPem: c.chain }),
      "external_ca_validity",
    ],
    [
      "a SHA-1 signature",
      (c) => ({ certPem: sign(c.csrPem, c.by, { extra: ["-sha1"] }), chainPem: c.chain }),
      "external_ca_weak_signature",
    ],
    [
      "a root other than the one the customer named",
      (c) => ({ certPem: sign(c.csrPem, c.by), chainPem: c.chain, rootSha256: "00".repeat(32) }),
      "external_ca_root_mismatch",
    ],
  ])("refuses %s, and writes nothing", async (_name, make, code) => {
    const ctx = await context();
    const input = make(ctx);
    const before = await db.certificateAuthority.count({ where: { customerId: ctx.customerId } });
    await expect(importExternalApplicationCa({ pendingId: ctx.pendingId, actor: system, ...input })).rejects.toMatchObject({
      code,
      status: 400,
    });
    expect(await db.certificateAuthority.count({ where: { customerId: ctx.customerId } })).toBe(before);
    expect(await db.pendingCa.count({ where: { id: ctx.pendingId } })).toBe(1);
  });

  it("revoking it leaves the customer without a C2PA CA until their CA signs a new one: never one under our root", async () => {
    const c = await onboard();
    const pki = customerPki("Revoked");
    const req = await requestExternalApplicationCa({ customerId: c.customer.id, application: "c2pa", actor: system });
    const ca = await importExternalApplicationCa({
      pendingId: req.pendingId,
      certPem: sign(req.csrPem, { cert: pki.int, key: pki.intKey }),
      chainPem: read(pki.int) + read(pki.root),
      rootSha256: openssl(["x509", "-in", pki.root, "-noout", "-fingerprint", "-sha256"]).out.split("=")[1].trim(),
      actor: system,
    });
    const revoked = await revokeCa({ caId: ca.id, reason: "keyCompromise", actor: system });
    expect(revoked.replacementCaId).toBeNull();
    // the customer's page keeps naming the root it chained to, and its fingerprint
    const rootFingerprint = openssl(["x509", "-in", pki.root, "-noout", "-fingerprint", "-sha256"]).out.split("=")[1].trim();
    expect(await listExternalCas(c.customer.id)).toEqual([
      expect.objectContaining({
        id: ca.id,
        status: "REVOKED",
        rootSubject: expect.stringMatching(/Revoked Root/),
        rootSha256: rootFingerprint.replace(/:/g, "").toLowerCase(),
      }),
    ]);
    const app = await db.certificateAuthority.findMany({
      where: { customerId: c.customer.id, kind: "APPLICATION" },
      orderBy: { generation: "asc" },
    });
    expect(app.map((x) => [x.generation, x.status, x.parentId === null])).toEqual([
      [1, "RETIRED", false],
      [2, "REVOKED", true],
    ]);
    const next = await requestExternalApplicationCa({ customerId: c.customer.id, application: "c2pa", actor: system });
    expect(next.generation).toBe(3);
  });

  it("a newer request replaces a pending one; an unknown profile or customer is refused", async () => {
    const c = await onboard();
    const first = await requestExternalApplicationCa({ customerId: c.customer.id, application: "c2pa", actor: system });
    const second = await requestExternalApplicationCa({ customerId: c.customer.id, application: "c2pa", actor: system });
    // the replaced request's key is gone with it
    expect(await db.keyMaterial.count({ where: { ref: `ca/${first.pendingId}` } })).toBe(0);
    expect(await db.keyMaterial.count({ where: { ref: `ca/${second.pendingId}` } })).toBe(1);
    const pki = customerPki("Replaced");
    await expect(
      importExternalApplicationCa({
        pendingId: first.pendingId,
        certPem: sign(first.csrPem, { cert: pki.int, key: pki.intKey }),
        actor: system,
      }),
    ).rejects.toMatchObject({ code: "pending_ca_not_found", status: 404 });
    expect(second.generation).toBe(first.generation);
    await expect(requestExternalApplicationCa({ customerId: c.customer.id, application: "dice", actor: system })).rejects.toMatchObject({
      code: "profile_unknown",
    });
    await expect(
      requestExternalApplicationCa({ customerId: "00000000-0000-4000-8000-000000000000", application: "c2pa", actor: system }),
    ).rejects.toMatchObject({ code: "customer_not_found" });
  });
});

type Ctx = {
  customerId: string;
  pendingId: string;
  csrPem: string;
  otherCsr: string;
  by: { cert: string; key: string };
  chain: string;
  pki: ReturnType<typeof customerPki>;
  stranger: ReturnType<typeof customerPki>;
  tight: ReturnType<typeof customerPki>;
};

let shared: Omit<Ctx, "customerId" | "pendingId" | "csrPem" | "otherCsr"> | undefined;

async function context(): Promise<Ctx> {
  const c = await onboard();
  const req = await requestExternalApplicationCa({ customerId: c.customer.id, application: "c2pa", actor: system });
  if (!shared) {
    const pki = customerPki("Refusing");
    shared = {
      pki,
      by: { cert: pki.int, key: pki.intKey },
      chain: read(pki.int) + read(pki.root),
      stranger: customerPki("Stranger"),
      // a root that may sign no CA below it
      tight: customerPki("Tight", [
        "-addext",
        "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ]),
    };
  }
  // the same subject, another key (what a mix-up of two requests would produce)
  const subject = req.subject
    .split(", ")
    .map((p) => `/${p}`)
    .join("");
  const key = dir.write(`${unique("other")}.key`, run(["ecparam", "-name", "prime256v1", "-genkey", "-noout"]));
  const otherCsr = run(["req", "-new", "-key", key, "-subj", subject, "-utf8"]);
  return { ...shared, customerId: c.customer.id, pendingId: req.pendingId, csrPem: req.csrPem, otherCsr };
}
