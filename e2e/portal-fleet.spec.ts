// The device fleet (SPEC §8): server-driven search, filter, sort, keyset pages and CSV export, per tenant.
import { expect, test } from "@playwright/test";
import { STAFF } from "./fixtures.ts";
import { seedCustomer, seedDevice, signIn } from "./portal-helpers.ts";

test("fleet search by SAN UID finds the customer's seeded devices; device id and serial searches narrow it", async ({ page }) => {
  const customer = seedCustomer("Fleet Co");
  const serial = seedDevice(customer.admin.uid, "fleet-cam-1");
  seedDevice(customer.admin.uid, "fleet-cam-2");
  seedDevice(customer.admin.uid, "fleet-cam-3");

  await signIn(page, STAFF);
  await page.goto("/devices");
  await page.getByLabel("Search").fill(customer.admin.uid);
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(new RegExp(`q=${customer.admin.uid}`));
  await expect(page.getByTestId("fleet-total")).toHaveText("3 devices");
  await expect(page.getByTestId("fleet-row")).toHaveCount(3);
  await expect(page.getByTestId("fleet-row").first()).toContainText(customer.name);

  await expect(page.getByRole("link", { name: "Next page" })).toHaveCount(0);

  // sort by expiry ascending through the table header: the URL holds it
  await page.getByRole("button", { name: /Expires/ }).click();
  await expect(page).toHaveURL(/sort=expiry/);
  await expect(page.getByTestId("fleet-row")).toHaveCount(3);

  await page.goto(`/devices?q=${serial}`);
  await expect(page.getByTestId("fleet-row")).toHaveCount(1);
  await expect(page.getByTestId("fleet-row")).toContainText("fleet-cam-1");

  await page.goto(`/devices?q=fleet-cam-2&customer=${customer.id}`);
  await expect(page.getByTestId("fleet-row")).toHaveCount(1);
  await page.getByTestId("fleet-row").getByRole("link", { name: "fleet-cam-2" }).click();
  await expect(page.getByRole("heading", { name: "Device fleet-cam-2" })).toBeVisible();
});

test("keyset pagination walks every device once; status filter and CSV export follow the URL", async ({ page }) => {
  const customer = seedCustomer("Pages Co");
  for (let i = 1; i <= 6; i++) seedDevice(customer.admin.uid, `page-cam-${i}`);
  await signIn(page, customer.admin);
  await page.goto("/devices?size=5&sort=enrolled&dir=asc");
  await expect(page.getByTestId("fleet-total")).toHaveText("6 devices");
  const first = await page.getByTestId("fleet-row").allTextContents();
  expect(first).toHaveLength(5);
  await page.getByRole("link", { name: "Next page" }).click();
  await expect(page.getByTestId("fleet-row")).toHaveCount(1);
  await expect(page.getByTestId("fleet-row")).toContainText("page-cam-6");
  await expect(page.getByRole("link", { name: "Next page" })).toHaveCount(0);

  await page.goto("/devices?status=revoked");
  await expect(page.getByTestId("fleet-total")).toHaveText("0 devices");

  const csv = await page.request.get("/devices/export?status=active");
  expect(csv.status()).toBe(200);
  expect(csv.headers()["content-type"]).toContain("text/csv");
  const lines = (await csv.text()).trim().split("\n");
  expect(lines[0]).toBe("device_id,customer,status,san_uid,serial,enrolled_at,last_rotated_at,rotation_overdue,not_after");
  expect(lines).toHaveLength(7);
  expect(lines.slice(1).every((l) => l.includes(customer.admin.uid))).toBe(true);
});

test("a customer sees only its own fleet whatever the URL says", async ({ page }) => {
  const a = seedCustomer("Tenant A");
  const b = seedCustomer("Tenant B");
  seedDevice(a.admin.uid, "a-cam-1");
  await signIn(page, b.admin);
  await page.goto(`/devices?customer=${a.id}&q=a-cam-1`);
  await expect(page.getByTestId("fleet-total")).toHaveText("0 devices");
  const csv = await (await page.request.get(`/devices/export?customer=${a.id}`)).text();
  expect(csv).not.toContain("a-cam-1");
});
