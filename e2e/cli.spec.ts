// The `pss` CLI works while the product runs on its embedded database, and what it writes is live at once.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import * as der from "../lib/pki/der.ts";
import { opensslCsr } from "./device-helpers.ts";
import { E2E_ENV, pss } from "./fixtures.ts";
import { seedCustomer, seedDevice } from "./portal-helpers.ts";

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
