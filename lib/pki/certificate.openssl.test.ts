// Interop: every certificate the pipeline issues is checked by a second implementation, `openssl verify
// -x509_strict` over the full chain, and `openssl x509 -text` shows the fields of §3.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { issueCertificate } from "./certificate.ts";
import { buildTestHierarchy, fixture, PUBLIC_URL, type TestCa } from "./fixtures/helpers.ts";
import type { LeafProfileId } from "./profiles.ts";

const NOW = new Date("2026-11-22T06:00:00.000Z");
const AT_TIME = String(Math.floor(NOW.getTime() / 1000) + 3600);
const UID = "user-Ü-42";
let dir: string;
let cas: Awaited<ReturnType<typeof buildTestHierarchy>>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "pss-openssl-"));
  cas = await buildTestHierarchy(NOW);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, ...pems: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, pems.join(""));
  return file;
}

function openssl(...args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

const CHAIN: Record<LeafProfileId, { issuer: keyof typeof cas; intermediates: (keyof typeof cas)[]; purpose: string; eku: RegExp }> = {
  bootstrap: {
    issuer: "bootstrapIssuing",
    intermediates: ["bootstrapIntermediate", "bootstrapIssuing"],
    purpose: "sslclient",
    eku: /TLS Web Client Authentication/,
  },
  "client-tls": {
    issuer: "customerIssuing",
    intermediates: ["tlsIntermediate", "customerIssuing"],
    purpose: "sslclient",
    eku: /TLS Web Client Authentication/,
  },
  c2pa: {
    issuer: "applicationCa",
    intermediates: ["tlsIntermediate", "applicationCa"],
    purpose: "any",
    eku: /1\.3\.6\.1\.5\.5\.7\.3\.36|Document Signing/,
  },
  server: { issuer: "tlsIntermediate", intermediates: ["tlsIntermediate"], purpose: "sslserver", eku: /TLS Web Server Authentication/ },
  "ocsp-responder": {
    issuer: "customerIssuing",
    intermediates: ["tlsIntermediate", "customerIssuing"],
    purpose: "any",
    eku: /OCSP Signing/,
  },
};

describe("openssl accepts what we issue", () => {
  it("verifies the CA chain strictly", () => {
    const root = write("root.pem", cas.root.pem);
    for (const [name, ca, chain] of [
      ["tls-int", cas.tlsIntermediate, []],
      ["cust", cas.customerIssuing, [cas.tlsIntermediate]],
      ["c2pa-ca", cas.applicationCa, [cas.tlsIntermediate]],
      ["boot-int", cas.bootstrapIntermediate, []],
      ["boot-iss", cas.bootstrapIssuing, [cas.bootstrapIntermediate]],
    ] as [string, TestCa, TestCa[]][]) {
      const args = ["verify", "-x509_strict", "-attime", AT_TIME, "-CAfile", root];
      if (chain.length) args.push("-untrusted", write(`${name}-chain.pem`, ...chain.map((c) => c.pem)));
      expect(openssl(...args, write(`${name}.pem`, ca.pem))).toMatch(/: OK/);
    }
    const text = openssl("x509", "-in", root, "-noout", "-text");
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).not.toMatch(/Extended Key Usage/);
    const issuing = openssl("x509", "-in", write("cust.pem", cas.customerIssuing.pem), "-noout", "-text");
    expect(issuing).toMatch(/CA:TRUE, pathlen:0/);
    expect(issuing).toContain(`URI:${PUBLIC_URL}/crl/tls-int-1.crl`);
    expect(issuing).toContain(`OCSP - URI:${PUBLIC_URL}/ocsp`);
  });

  it.each(Object.keys(CHAIN) as LeafProfileId[])("%s: openssl verify -x509_strict -purpose and x509 -text", async (profile) => {
    const c = CHAIN[profile];
    const ca = cas[c.issuer];
    for (const csrName of ["good-p256.pem", "good-ed25519.pem", "good-rsa2048.pem", "good-p384.pem"]) {
      const cert = await issueCertificate({
        csr: fixture(csrName).toString(),
        profile,
        issuer: { certDer: ca.certDer, signer: ca.signer },
        issuerId: ca.id,
        publicUrl: PUBLIC_URL,
        uid: UID,
        customerName: "Acme Corp",
        dnsNames: ["pss.example.test"],
        ipAddresses: ["10.0.0.1"],
        now: NOW,
      });
      const leaf = write(`${profile}.pem`, cert.pem);
      const out = openssl(
        "verify",
        "-x509_strict",
        "-attime",
        AT_TIME,
        "-purpose",
        c.purpose,
        "-CAfile",
        write("root.pem", cas.root.pem),
        "-untrusted",
        write(`${profile}-chain.pem`, ...c.intermediates.map((k) => cas[k].pem)),
        leaf,
      );
      expect(out).toMatch(/: OK/);

      const text = openssl("x509", "-in", leaf, "-noout", "-text", "-nameopt", "utf8,sep_comma_plus_space");
      // OpenSSL prints general names in its one-line form, escaping UTF-8 bytes.
      expect(text).toContain("DirName:/UID=user-\\xC3\\x9C-42");
      expect(text).toMatch(c.eku);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
      expect(text).toContain(`URI:${PUBLIC_URL}/crl/${ca.id}.crl`);
      expect(text).toContain(`OCSP - URI:${PUBLIC_URL}/ocsp`);
      expect(text).toContain("Not Before: Nov 22 05:55:00 2026 GMT");
      if (profile === "client-tls") {
        expect(text).toContain("Subject: O=Acme Corp, CN=PSS Acme Corp Client TLS Certificate, serialNumber=dev-");
        expect(text).toMatch(/URI:urn:pss:device:dev-/);
      }
      if (profile === "server") expect(text).toMatch(/DNS:pss\.example\.test, IP Address:10\.0\.0\.1/);
      if (profile === "ocsp-responder") expect(text).toMatch(/OCSP No Check/);
    }
  });

  it("openssl refuses a leaf under the wrong hierarchy (control)", async () => {
    const cert = await issueCertificate({
      csr: fixture("good-p256.pem").toString(),
      profile: "client-tls",
      issuer: { certDer: cas.customerIssuing.certDer, signer: cas.customerIssuing.signer },
      issuerId: cas.customerIssuing.id,
      publicUrl: PUBLIC_URL,
      uid: UID,
      customerName: "Acme",
      now: NOW,
    });
    const other = await buildTestHierarchy(NOW);
    expect(() =>
      openssl(
        "verify",
        "-attime",
        AT_TIME,
        "-CAfile",
        write("other-root.pem", other.root.pem),
        "-untrusted",
        write("wrong-chain.pem", other.tlsIntermediate.pem, other.customerIssuing.pem),
        write("leaf.pem", cert.pem),
      ),
    ).toThrow();
  });
});
