// The `pss` CLI works while the product runs on its embedded database, and what it writes is live at once.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { opensslCsr } from "./device-helpers.ts";
import { pss } from "./fixtures.ts";

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
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
