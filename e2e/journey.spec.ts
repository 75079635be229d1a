// The whole journey (issue 6, SPEC §1): staff onboards a customer → its admin registers a payload key and a
// bootstrapping certificate generated in the browser → a device enrolls over mTLS with the device SDK → the
// device is found in the fleet by SAN UID → the admin revokes its certificate → the device is refused (403)
// → the audit log shows each step.
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import { expect, type Page, test } from "@playwright/test";
import { EstError } from "../lib/device-sdk/index.ts";
import { enrollDevice } from "./device-helpers.ts";
import { STAFF } from "./fixtures.ts";
import { signIn } from "./portal-helpers.ts";

async function downloaded(page: Page, button: string): Promise<string> {
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: button }).click();
  return fs.readFileSync(await (await download).path(), "utf8");
}

test("onboard → payload key → bootstrap certificate → device enrolls → fleet by UID → revoke → device refused → audit", async ({
  browser,
}) => {
  const tag = randomUUID().slice(0, 8);
  const name = `Acme Cameras ${tag}`;
  const admin = { email: `admin-${tag}@acme.e2e.test`, password: `acme-pw-${tag}-1234` };
  const deviceId = `acme-cam-${tag}`;

  // 1. staff onboards the customer in the wizard
  const staffCtx = await browser.newContext();
  const staff = await staffCtx.newPage();
  await signIn(staff, STAFF);
  await staff.goto("/customers/new");
  await staff.getByLabel("Customer name").fill(name);
  await staff.getByLabel("Admin email").fill(admin.email);
  await staff.getByLabel("Admin password").fill(admin.password);
  await staff.getByRole("button", { name: "Create customer" }).click();
  await expect(staff.getByRole("heading", { name: `Customer ${name} created` })).toBeVisible();
  const uid = ((await staff.getByTestId("secret-Admin UID").textContent()) ?? "").trim();
  expect(uid).not.toBe("");
  await staffCtx.close();

  // 2. the customer admin signs in and generates a payload-signing key in the browser
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await signIn(page, admin);
  await page.getByRole("link", { name: "Payload-signing keys" }).click();
  await page.getByLabel("Your password").fill(admin.password);
  await page.getByRole("button", { name: "Generate and register key" }).click();
  await expect(page.getByRole("status").filter({ hasText: /Key .* registered\./ })).toBeVisible();
  const payloadKey = await downloaded(page, "Download private key (PEM)");
  expect(payloadKey).toContain("BEGIN PRIVATE KEY");
  await expect(page.getByTestId("key-row")).toHaveCount(1);

  // 3. a bootstrapping certificate generated in the browser: certificate, chain and key downloaded
  await page.getByRole("link", { name: "Bootstrapping certificates" }).click();
  await page.getByRole("button", { name: "Generate key and request certificate" }).click();
  await expect(page.getByRole("status").filter({ hasText: /Bootstrapping certificate [0-9a-f]+ issued\./ })).toBeVisible();
  const bootCert = await downloaded(page, "Download certificate");
  const bootChain = await downloaded(page, "Download chain");
  const bootKey = await downloaded(page, "Download private key (PEM)");

  // 4. a device enrolls over mTLS with the device SDK
  const device = await enrollDevice(page.request, { bootstrapCert: bootCert + bootChain, bootstrapKey: bootKey, deviceId });
  const serial = device.status().serial;

  // 5. the device appears in the fleet, found by its SAN UID
  await page.getByRole("link", { name: "Device fleet" }).click();
  await page.getByLabel("Search").fill(uid);
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(new RegExp(`q=${uid}`));
  const row = page.getByTestId("fleet-row").filter({ hasText: deviceId });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText("active");
  await page.goto("/bootstrap");
  await expect(page.getByTestId("bootstrap-usage")).toHaveText("1 / ∞");

  // 6. the admin revokes the device's certificate in the portal
  await page.goto(`/devices?q=${uid}`);
  await page.getByTestId("fleet-row").filter({ hasText: deviceId }).getByRole("link", { name: serial }).click();
  await expect(page.getByRole("heading", { name: `Certificate ${serial}` })).toBeVisible();
  await page.getByLabel("Revocation reason").selectOption("keyCompromise");
  await page.getByRole("button", { name: "Revoke certificate" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Certificate revoked." })).toBeVisible();

  // 7. the device's next mTLS request is refused
  const refused = await device.rotate({ force: true }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(EstError);
  expect((refused as EstError).status).toBe(403);
  expect((refused as EstError).code).toBe("cert_revoked");

  // 8. the audit log shows each step (newest first)
  await page.goto("/audit");
  const audit = page.getByTestId("audit-row");
  const step = (action: string, text?: string) => {
    let rows = audit.filter({ has: page.getByRole("cell", { name: action, exact: true }) });
    if (text) rows = rows.filter({ hasText: text });
    return rows;
  };
  await expect(step("customer.create")).toHaveCount(1);
  await expect(step("auth.sign_in").first()).toBeVisible();
  await expect(step("signing_key.register")).toHaveCount(1);
  await expect(step("certificate.issue", `portal:${uid}`)).toHaveCount(1); // the bootstrapping certificate
  await expect(step("certificate.issue", "client-tls")).toHaveCount(1);
  await expect(step("certificate.revoke", serial)).toHaveCount(1);
  await expect(step("certificate.revoke", serial)).toContainText("keyCompromise");
  await ctx.close();
});
