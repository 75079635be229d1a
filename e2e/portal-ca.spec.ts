// CA console (SPEC §2, §6, §8): rotation and revoking a customer's TLS issuing CA after its blast radius.
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
