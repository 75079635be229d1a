// CA console (SPEC §2, §6, §8): rotation and revoking a customer's TLS issuing CA after its blast radius.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { STAFF } from "./fixtures.ts";
import { seedCustomer, seedDevice, signIn } from "./portal-helpers.ts";

test("staff revokes a customer issuing CA after seeing the blast radius; a new generation becomes active", async ({ page }) => {
  const customer = seedCustomer("Revoke Co");
  const serials = [seedDevice(customer.admin.uid, "cam-r1"), seedDevice(customer.admin.uid, "cam-r2")];

  await signIn(page, STAFF);
  await page.goto(`/customers/${customer.id}`);
  await page
    .getByRole("row")
    .filter({ hasText: "Customer TLS Issuing CA" })
    .getByRole("link", { name: /^Revoke/ })
    .click();
  await expect(page.getByRole("heading", { name: `Revoke ${customer.name}'s TLS issuing CA` })).toBeVisible();
  await expect(page.getByTestId("blast-devices")).toHaveText("2");
  await expect(page.getByTestId("blast-certificates")).toHaveText("2");

  // the typed confirmation is checked on the server
  const confirm = page.getByLabel(/Type the customer name/);
  await confirm.fill("wrong name");
  await page.getByRole("button", { name: /Revoke issuing CA/ }).click();
  await expect(confirm).toHaveAccessibleDescription(/exactly to confirm/);

  await confirm.fill(customer.name);
  await page.getByRole("button", { name: /Revoke issuing CA/ }).click();
  await expect(page.getByText("Revoked. 2 certificates")).toBeVisible();

  await page.goto(`/customers/${customer.id}`);
  const tls = page.getByRole("row").filter({ hasText: "Customer TLS Issuing CA" });
  await expect(tls).toHaveCount(2);
  await expect(tls.filter({ hasText: "G1" }).getByText("revoked", { exact: true })).toBeVisible();
  await expect(tls.filter({ hasText: "G2" }).getByText("active", { exact: true })).toBeVisible();

  for (const serial of serials) {
    await page.goto(`/certificates/${serial}`);
    await expect(page.getByRole("heading", { name: `Certificate ${serial}` })).toBeVisible();
    await expect(page.getByTestId("cert-status")).toHaveText("revoked");
  }

  // the customer learns it on their overview: what was revoked, what is active, what to do
  await page.context().clearCookies();
  await signIn(page, customer.admin);
  const notice = page.getByRole("alert").filter({ hasText: "Your TLS issuing CA generation G1 was revoked" });
  await expect(notice).toContainText("Generation G2 is active.");
  await expect(notice.getByRole("link", { name: "Provision new bootstrapping certificates" })).toHaveAttribute("href", "/bootstrap");
  const own = page.getByRole("table", { name: "Certificate authorities" }).getByRole("row").filter({ hasText: "Customer TLS Issuing CA" });
  await expect(own).toHaveCount(2);
  await expect(own.filter({ hasText: "G2" }).getByText("active", { exact: true })).toBeVisible();
});

test("a customer's overview shows its own CAs, no notice while nothing is revoked, and no other customer's", async ({ page }) => {
  const mine = seedCustomer("Own CAs");
  seedCustomer("Other CAs");
  await signIn(page, mine.viewer);
  const rows = page.getByRole("table", { name: "Certificate authorities" }).getByRole("row");
  await expect(rows.filter({ hasText: "Customer TLS Issuing CA" })).toHaveCount(1);
  await expect(rows.filter({ hasText: "Application CA (c2pa)" })).toHaveCount(1);
  // where each CA key lives (the e2e product runs on software keys; the PKCS#11 token is tested in Vitest)
  await expect(rows.filter({ hasText: "Customer TLS Issuing CA" })).toContainText("software, sealed");
  await expect(rows.filter({ hasText: "Other CAs" })).toHaveCount(0);
  await expect(page.getByRole("alert").filter({ hasText: "was revoked" })).toHaveCount(0);
});

test("staff rotates a customer's application CA from the CA console", async ({ page }) => {
  const customer = seedCustomer("Rotate Co");
  await signIn(page, STAFF);
  await page.goto("/ca");
  const row = page.getByRole("row").filter({ hasText: customer.name }).filter({ hasText: "Application CA" });
  await expect(row).toHaveCount(1);
  await row.getByRole("button", { name: /Rotate .* now/ }).click();
  // the action revalidates the page: the new generation appears without a reload
  const rows = page.getByRole("row").filter({ hasText: customer.name }).filter({ hasText: "Application CA" });
  await expect(rows).toHaveCount(2);
  await expect(rows.filter({ hasText: "G1" }).getByText("retired", { exact: true })).toBeVisible();
  await expect(rows.filter({ hasText: "G2" }).getByText("active", { exact: true })).toBeVisible();
});

test("staff request a C2PA CA under the customer's root, the customer's CA signs it, a wrong chain is refused, the right one imports", async ({
  page,
}) => {
  const customer = seedCustomer("Own Root Portal");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-e2e-extca-portal-"));
  const ossl = (...args: string[]) => execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const root = (name: string) => {
    ossl(
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
      ...["-keyout", `${dir}/${name}.key`, "-out", `${dir}/${name}.pem`, "-subj", `/O=${name}/CN=${name} Root`, "-days", "3650"],
      ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    );
    return fs.readFileSync(`${dir}/${name}.pem`, "utf8");
  };
  try {
    const theirs = root("studio");
    const stranger = root("stranger");
    await signIn(page, STAFF);
    await page.goto(`/customers/${customer.id}`);
    await page.getByRole("button", { name: "Request a CSR for a C2PA CA under the customer's root" }).click();
    const pending = page.getByTestId("pending-ca");
    await expect(pending).toContainText("Waiting for the customer's CA");
    fs.writeFileSync(`${dir}/app.csr`, (await pending.getByTestId("pending-csr").textContent()) ?? "");
    fs.writeFileSync(`${dir}/ids.ext`, "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n");
    ossl(
      ...["x509", "-req", "-in", `${dir}/app.csr`, "-CA", `${dir}/studio.pem`, "-CAkey", `${dir}/studio.key`],
      ...["-copy_extensions", "copy", "-extfile", `${dir}/ids.ext`, "-days", "1825", "-out", `${dir}/app.pem`],
    );
    const signed = fs.readFileSync(`${dir}/app.pem`, "utf8");

    // the chain of another root: refused with the reason, nothing imported
    await pending.getByLabel(/CA certificate the customer's CA signed/).fill(signed);
    await pending.getByLabel(/chain up to their root/).fill(stranger);
    await pending.getByRole("button", { name: "Check and import" }).click();
    await expect(pending.getByRole("alert")).toContainText("does not chain to the trusted root");
    await expect(page.getByRole("row").filter({ hasText: "signed by the customer's own CA" })).toHaveCount(0);

    // what was pasted is still there: only the chain is replaced
    await expect(pending.getByLabel(/CA certificate the customer's CA signed/)).toHaveValue(signed);
    await pending.getByLabel(/chain up to their root/).fill(theirs);
    await pending.getByRole("button", { name: "Check and import" }).click();
    // the page shows the new state at once: the request is done, the CA active
    const row = page.getByRole("row").filter({ hasText: "signed by the customer's own CA" });
    await expect(row).toContainText("Application CA (c2pa)");
    await expect(row.getByText("active", { exact: true })).toBeVisible();
    await expect(page.getByTestId("pending-ca")).toHaveCount(0);
    // the root it chains to stays on the page, with the fingerprint to confirm with the customer
    const rootSha256 = ossl("x509", "-in", `${dir}/studio.pem`, "-noout", "-fingerprint", "-sha256")
      .split("=")[1]
      .trim()
      .replace(/:/g, "")
      .toLowerCase();
    await page.reload();
    await expect(page.getByTestId("external-ca")).toContainText(`O=studio, CN=studio Root with SHA-256 ${rootSha256}`);
    await expect(page.getByTestId("external-ca")).toContainText("(active,");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
