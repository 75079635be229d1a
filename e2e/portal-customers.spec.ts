// Staff onboarding (SPEC §8): the wizard's field errors, the credentials shown once, the new customer's CAs.
import { randomUUID } from "node:crypto";
import { expect, test } from "@playwright/test";
import { CUSTOMER, STAFF } from "./fixtures.ts";
import { signIn } from "./portal-helpers.ts";

test("form errors show next to their fields and a known refusal shows its message", async ({ page }) => {
  await signIn(page, STAFF);
  await page.goto("/customers/new");
  await page.getByLabel("Customer name").fill("x");
  await page.getByLabel("Admin email").fill("not-an-email");
  await page.getByLabel("Admin password").fill("short");
  await page.getByRole("button", { name: "Create customer" }).click();
  const name = page.getByLabel("Customer name");
  await expect(name).toHaveAttribute("aria-invalid", "true");
  await expect(name).toHaveAccessibleDescription(/at least 2 characters/);
  await expect(page.getByLabel("Admin email")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Admin password")).toHaveAccessibleDescription(/at least 12 characters/);
  // what was typed survives the round trip (except the password)
  await expect(name).toHaveValue("x");

  // an existing customer's name: the typed AppError message, not database text
  await name.fill(CUSTOMER.name);
  await page.getByLabel("Admin email").fill(`dup-${randomUUID().slice(0, 8)}@example.test`);
  await page.getByLabel("Admin password").fill("");
  await page.getByRole("button", { name: "Create customer" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "already exists" })).toBeVisible();
  await expect(page.getByText(/prisma|P2002|constraint/i)).toHaveCount(0);
});

test("staff onboards a customer in the wizard, sees the credentials once, then its CAs", async ({ page }) => {
  const name = `Acme Cameras ${randomUUID().slice(0, 8)}`;
  const email = `admin-${randomUUID().slice(0, 8)}@acme.example`;
  await signIn(page, STAFF);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Customers" }).click();
  await page.getByRole("link", { name: "Onboard a customer" }).click();
  await page.getByLabel("Customer name").fill(name);
  await page.getByLabel("Admin email").fill(email);
  await page.getByRole("button", { name: "Create customer" }).click();

  await expect(page.getByRole("heading", { name: `Customer ${name} created` })).toBeVisible();
  await expect(page.getByTestId("secret-Admin sign-in email")).toHaveText(email);
  await expect(page.getByTestId("secret-API client id")).toHaveText(/^pss_/);
  await expect(page.getByTestId("secret-API client secret")).not.toBeEmpty();
  const password = (await page.getByTestId("secret-Admin password").textContent()) ?? "";
  expect(password.length).toBeGreaterThanOrEqual(12);

  await page.getByRole("link", { name: `Open ${name}` }).click();
  await expect(page.getByRole("heading", { name })).toBeVisible();
  const tls = page.getByRole("row").filter({ hasText: "Customer TLS Issuing CA" });
  await expect(tls).toHaveCount(1);
  await expect(tls.getByText("active", { exact: true })).toBeVisible();
  await expect(page.getByRole("row").filter({ hasText: "Application CA (c2pa)" })).toHaveCount(1);

  // listed, and the secrets are not retrievable again
  await page.goto("/customers");
  const row = page.getByRole("row").filter({ hasText: name });
  await expect(row).toContainText(email);
  await expect(page.getByText(/pss_/)).toHaveCount(0);

  // the generated password works: the new admin signs in
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin/);
  await signIn(page, { email, password });
  await expect(page.getByTestId("role")).toHaveText("Customer admin");
});
