// The `pss` CLI works while the product runs on its embedded database, and what it writes is live at once.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import * as der from "../lib/pki/der.ts";
import { opensslCsr } from "./device-helpers.ts";
import { E2E_ENV, pss, STAFF } from "./fixtures.ts";
import { seedCustomer, seedDevice, signIn } from "./portal-helpers.ts";

test("a customer onboarded with the CLI while the product runs can sign in", async ({ page }) => {
  const email = `cli-${Date.now()}@example.test`;
  const out = pss("customer", "create", "--name", `CLI Co ${Date.now()}`, "--admin-email", email, "--admin-password", "cli-password-1234");
  expect(out).toMatchObject({
    customer: { id: expect.any(String) },
    user: { email, role: "CUSTOMER_ADMIN" },
    client: { clientId: expect.stringMatching(/^pss_/) },
  });
  await page.goto("/signin");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("cli-password-1234");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
});

test("pss init, customer create and cert issue produce a chain openssl verifies; /ca/root.pem serves the root", async ({ request }) => {
  const customer = pss("customer", "create", "--name", `Chain Co ${Date.now()}`, "--admin-email", `chain-${Date.now()}@example.test`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-e2e-cli-"));
  try {
    const { csrFile } = opensslCsr("cam-42", "/serialNumber=cam-42/CN=cam-42");
    const cert = pss("cert", "issue", "--profile", "client-tls", "--csr", csrFile, "--uid", customer.user.uid);
    fs.writeFileSync(`${dir}/leaf.pem`, cert.certificate);
    fs.writeFileSync(`${dir}/chain.pem`, cert.chain.slice(0, -1).join(""));
    const root = await (await request.get("/ca/root.pem")).text();
    expect(root).toBe(cert.chain.at(-1));
    fs.writeFileSync(`${dir}/root.pem`, root);
    const verify = execFileSync(
      "openssl",
      [
        "verify",
        "-x509_strict",
        "-purpose",
        "sslclient",
        "-CAfile",
        `${dir}/root.pem`,
        "-untrusted",
        `${dir}/chain.pem`,
        `${dir}/leaf.pem`,
      ],
      { encoding: "utf8" },
    );
    expect(verify).toContain("leaf.pem: OK");
    // the CRL and OCSP URLs in the certificate answer from the running product
    const text = execFileSync("openssl", ["x509", "-in", `${dir}/leaf.pem`, "-noout", "-text"], { encoding: "utf8" });
    const crlUrl = /URI:(http:\/\/\S+\.crl)/.exec(text)![1];
    const crl = await request.get(new URL(crlUrl).pathname);
    expect(crl.headers()["content-type"]).toBe("application/pkix-crl");
    fs.writeFileSync(`${dir}/ca.crl`, await crl.body());
    fs.writeFileSync(`${dir}/all.pem`, cert.chain.join(""));
    const crlCheck = spawnSync(
      "openssl",
      ["crl", "-inform", "DER", "-in", `${dir}/ca.crl`, "-CAfile", `${dir}/all.pem`, "-noout", "-verify"],
      { encoding: "utf8" },
    );
    expect(crlCheck.stderr + crlCheck.stdout).toContain("verify OK");
    const ocspUrl = /OCSP - URI:(\S+)/.exec(text)![1];
    fs.writeFileSync(`${dir}/issuer.pem`, cert.chain[0]);
    const ocsp = () =>
      execFileSync(
        "openssl",
        [
          "ocsp",
          "-issuer",
          `${dir}/issuer.pem`,
          "-cert",
          `${dir}/leaf.pem`,
          "-url",
          ocspUrl,
          "-CAfile",
          `${dir}/root.pem`,
          "-verify_other",
          `${dir}/all.pem`,
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
    expect(ocsp()).toContain("leaf.pem: good");
    pss("cert", "revoke", cert.serial, "--reason", "keyCompromise");
    const revoked = ocsp();
    expect(revoked).toContain("leaf.pem: revoked");
    expect(revoked).toContain("Reason: keyCompromise");

    // The same question by GET (RFC 6960 A.1), base64 unencoded as many clients send it. A nonce of 0xFF
    // octets puts "//" in the path, which must reach the responder uncollapsed.
    execFileSync("openssl", [
      "ocsp",
      "-issuer",
      `${dir}/issuer.pem`,
      "-cert",
      `${dir}/leaf.pem`,
      "-no_nonce",
      "-reqout",
      `${dir}/plain.der`,
    ]);
    const plain = fs.readFileSync(`${dir}/plain.der`);
    const requestList = der.children(plain, der.children(plain, der.readTlv(plain, 0))[0])[0];
    const nonce = der.sequence(der.oid("1.3.6.1.5.5.7.48.1.2"), der.octetString(der.octetString(Buffer.alloc(16, 0xff))));
    const withNonce = der.sequence(der.sequence(der.bytesOf(plain, requestList), der.explicit(2, der.sequence(nonce))));
    fs.writeFileSync(`${dir}/req.der`, withNonce);
    const b64 = withNonce.toString("base64");
    expect(b64).toContain("//");
    const viaGet = await request.get(`/ocsp/${b64}`, { maxRedirects: 0 });
    expect(viaGet.status()).toBe(200);
    expect(viaGet.headers()["cache-control"]).toContain("max-age");
    fs.writeFileSync(`${dir}/resp.der`, await viaGet.body());
    // -reqin makes openssl check that the response echoes the request's nonce
    const checked = spawnSync(
      "openssl",
      [
        "ocsp",
        "-reqin",
        `${dir}/req.der`,
        "-respin",
        `${dir}/resp.der`,
        "-CAfile",
        `${dir}/root.pem`,
        "-verify_other",
        `${dir}/all.pem`,
        "-resp_text",
      ],
      { encoding: "utf8" },
    );
    expect(checked.status).toBe(0);
    expect(checked.stderr).toContain("Response verify OK");
    expect(checked.stderr).not.toContain("Nonce Verify error");
    expect(checked.stdout).toContain("Cert Status: revoked");
    expect(/Serial Number: ([0-9A-F]+)/.exec(checked.stdout)?.[1].toLowerCase().replace(/^0+/, "")).toBe(cert.serial);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("pss runs from any folder and opens the running product's database", async () => {
  const here = pss("ca", "list");
  const elsewhere = JSON.parse(
    execFileSync(process.execPath, [path.resolve("bin/pss.mjs"), "ca", "list", "--json"], {
      cwd: os.tmpdir(),
      env: E2E_ENV,
      encoding: "utf8",
    }),
  );
  expect(elsewhere.cas.map((c: { id: string }) => c.id)).toEqual(here.cas.map((c: { id: string }) => c.id));
});

test("pss device reset revokes what the device holds, once; a bad reason or a second reset is refused", async () => {
  const c = seedCustomer("CLI Reset");
  const serial = seedDevice(c.admin.uid, "cli-rst-1");
  const fail = (...args: string[]) => {
    try {
      pss(...args);
    } catch (e) {
      return JSON.parse((e as { stdout: string }).stdout).error.code as string;
    }
    throw new Error("expected a refusal");
  };
  expect(fail("device", "reset", "--customer", c.id, "--device-id", "cli-rst-1", "--reason", "certificateHold")).toBe("invalid_reason");
  expect(pss("device", "reset", "--customer", c.id, "--device-id", "cli-rst-1", "--reason", "keyCompromise")).toEqual({
    deviceId: "cli-rst-1",
    certificatesRevoked: 1,
  });
  expect(pss("cert", "show", serial)).toMatchObject({ status: "revoked", revocationReason: "keyCompromise" });
  expect(fail("device", "reset", "--customer", c.id, "--device-id", "cli-rst-1")).toBe("already_reset");
  expect(fail("device", "reset", "--customer", c.id, "--device-id", "no-such-device")).toBe("device_not_found");
});

test("a C2PA CA under the customer's own root: external-csr and external-import while the product runs; OCSP and the CA console agree", async ({
  page,
}) => {
  const customer = seedCustomer("Own Root");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-e2e-extca-"));
  const ossl = (...args: string[]) => execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  try {
    // the customer's root, made by their own tooling (openssl here)
    ossl(
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${dir}/root.key`,
      "-out",
      `${dir}/root.pem`,
      "-subj",
      "/O=Own Root Studio/CN=Own Root Studio Content Root",
      "-days",
      "3650",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    );
    const req = pss("ca", "external-csr", "--customer", customer.id, "--profile", "c2pa", "--out", `${dir}/app.csr`);
    expect(req.csrPem).toBe(fs.readFileSync(`${dir}/app.csr`, "utf8"));
    expect(pss("ca", "external-pending", "--customer", customer.id).pending.map((p: { id: string }) => p.id)).toEqual([req.pendingId]);
    fs.writeFileSync(`${dir}/ids.ext`, "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
    ossl(
      "x509",
      "-req",
      "-in",
      `${dir}/app.csr`,
      "-CA",
      `${dir}/root.pem`,
      "-CAkey",
      `${dir}/root.key`,
      "-copy_extensions",
      "copy",
      "-extfile",
      `${dir}/ids.ext`,
      "-days",
      "1825",
      "-out",
      `${dir}/app.pem`,
    );
    const imported = pss("ca", "external-import", req.pendingId, "--cert", `${dir}/app.pem`, "--chain", `${dir}/root.pem`);
    expect(imported.ca.subject).toBe(req.subject);

    // a C2PA certificate from it chains to the customer's root
    const { csrFile } = opensslCsr("cam-c2pa-1", "/CN=cam-c2pa-1");
    const cert = pss("cert", "issue", "--profile", "c2pa", "--csr", csrFile, "--uid", customer.admin.uid);
    expect(cert.chain.at(-1)).toBe(fs.readFileSync(`${dir}/root.pem`, "utf8"));
    fs.writeFileSync(`${dir}/leaf.pem`, cert.certificate);
    expect(ossl("verify", "-x509_strict", "-CAfile", `${dir}/root.pem`, "-untrusted", `${dir}/app.pem`, `${dir}/leaf.pem`)).toContain(
      "leaf.pem: OK",
    );
    // the running product answers OCSP for it, signed with the imported CA's key
    const text = ossl("x509", "-in", `${dir}/leaf.pem`, "-noout", "-text");
    const ocsp = ossl(
      "ocsp",
      "-issuer",
      `${dir}/app.pem`,
      "-cert",
      `${dir}/leaf.pem`,
      "-url",
      /OCSP - URI:(\S+)/.exec(text)![1],
      "-CAfile",
      `${dir}/root.pem`,
      "-verify_other",
      `${dir}/app.pem`,
    );
    expect(ocsp).toContain("leaf.pem: good");

    // staff see it in the CA console as the customer's, with no rotate button (their CA signs the next one)
    await signIn(page, STAFF);
    await page.goto(`/customers/${customer.id}`);
    const row = page.getByRole("row").filter({ hasText: imported.ca.subject });
    await expect(row).toContainText("signed by the customer's own CA");
    await expect(row.getByRole("button", { name: /Rotate/ })).toHaveCount(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
