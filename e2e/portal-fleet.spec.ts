// The device fleet (SPEC §8): server-driven search, filter (status incl. quarantined, expiring within N days,
// rotation overdue), sort, keyset pages and CSV export, per tenant; the overview's charts.
import fs from "node:fs";
import { expect, test } from "@playwright/test";
import { EstError } from "../lib/device-sdk/index.ts";
import { enrollDevice, opensslCsr } from "./device-helpers.ts";
import { pss, STAFF } from "./fixtures.ts";
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

test("quarantined and expiring-within filters: the URL holds them, the table and the CSV export follow", async ({ page }) => {
  const c = seedCustomer("Quarantine Co");
  // a factory line's bootstrapping certificate with a budget of one device: the second device quarantines it
  const { key, csrFile } = opensslCsr("factory-line-q");
  const boot = pss("cert", "issue", "--profile", "bootstrap", "--csr", csrFile, "--uid", c.admin.uid);
  pss("policy", "set", "--customer", c.id, "--bootstrap", boot.serial, "--max", "1");
  const bootstrapCert = [boot.certificate, ...boot.chain.slice(0, -1)].join("");
  await enrollDevice(page.request, { bootstrapCert, bootstrapKey: key, deviceId: "quar-cam-1" });
  const refused = await enrollDevice(page.request, { bootstrapCert, bootstrapKey: key, deviceId: "quar-cam-2" }).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(EstError);
  expect((refused as EstError).status).toBe(403);
  seedDevice(c.admin.uid, "quar-cam-ok");

  await signIn(page, c.admin);
  await page.goto("/devices");
  await expect(page.getByTestId("fleet-total")).toHaveText("2 devices");
  await page.getByLabel("Status").selectOption("quarantined");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/status=quarantined/);
  await expect(page.getByTestId("fleet-total")).toHaveText("1 device");
  await expect(page.getByTestId("fleet-row")).toHaveCount(1);
  await expect(page.getByTestId("fleet-row")).toContainText("quar-cam-1");
  await expect(page.getByTestId("fleet-row")).toContainText("quarantined");
  const quarantinedCsv = (await (await page.request.get("/devices/export?status=quarantined")).text()).trim().split("\n");
  expect(quarantinedCsv).toHaveLength(2);
  expect(quarantinedCsv[1]).toMatch(/^quar-cam-1,.*,quarantined,/);
  await page.goto("/devices?status=active");
  await expect(page.getByTestId("fleet-row")).toHaveCount(1);
  await expect(page.getByTestId("fleet-row")).toContainText("quar-cam-ok");

  // both certificates are a year from expiry: none within 30 days, both within 366, listed by expiry
  await page.goto("/devices");
  await page.getByLabel("Expiring within").selectOption("30");
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/expiring=30/);
  await expect(page.getByTestId("fleet-total")).toHaveText("0 devices");
  await page.goto("/devices?expiring=366&sort=enrolled");
  await expect(page.getByLabel("Expiring within")).toHaveValue("366");
  await expect(page.getByTestId("fleet-total")).toHaveText("2 devices");
  const rows = page.getByTestId("fleet-row");
  await expect(rows).toHaveCount(2);
  await expect(rows.first()).toContainText("quar-cam-1"); // enrolled first, so it expires first
  await expect(page.getByRole("columnheader", { name: /Expires/ })).toHaveAttribute("aria-sort", "ascending");
  await expect(page.getByRole("button", { name: /Enrolled/ })).toHaveCount(0); // sorted by expiry while filtering by it
  const expiringCsv = await (await page.request.get("/devices/export?expiring=30")).text();
  expect(expiringCsv.trim().split("\n")).toHaveLength(1);
  expect((await (await page.request.get("/devices/export?expiring=366")).text()).trim().split("\n")).toHaveLength(3);

  // release: the device is active again, for the filter and for its own status
  pss("policy", "release", "--customer", c.id, "--bootstrap", boot.serial);
  await page.goto("/devices?status=quarantined");
  await expect(page.getByTestId("fleet-total")).toHaveText("0 devices");
  await page.goto("/devices?q=quar-cam-1");
  await expect(page.getByTestId("fleet-row")).toContainText("active");
  fs.rmSync(csrFile, { force: true });
});

test("the overview: counts link to their filters; issuances per day, rotation compliance and upcoming expiries by week", async ({
  page,
}) => {
  const c = seedCustomer("Overview Co");
  seedDevice(c.admin.uid, "ov-cam-1");
  seedDevice(c.admin.uid, "ov-cam-2");
  await signIn(page, c.admin);
  const counts = page.getByRole("region", { name: "Fleet counts" });
  await expect(counts.getByRole("link", { name: /Devices\s*2/ })).toBeVisible();
  await expect(counts.getByRole("link", { name: /Active devices\s*2/ })).toBeVisible();
  await expect(counts.getByRole("link", { name: /Expiring in 30 days\s*0/ })).toHaveAttribute("href", "/devices?expiring=30");
  await expect(counts.getByRole("link", { name: /Rotation overdue\s*0/ })).toHaveAttribute("href", "/devices?overdue=1");
  await expect(page.getByRole("img", { name: "Certificates issued per day: 2 certificates in total" })).toBeVisible();
  await expect(page.getByTestId("compliance-pct")).toHaveText("100%");
  const expiries = page.getByRole("region", { name: "Upcoming expiries by week (next 12 weeks)" });
  await expect(expiries.getByRole("img", { name: /^Device certificates expiring per week.*: 0 certificates in total$/ })).toBeVisible();
  // the chart's values are also a table for screen readers: one row per week
  await expect(expiries.getByRole("table").getByRole("row")).toHaveCount(12);
  const attention = page.getByRole("region", { name: "Needs attention" });
  await expect(attention.getByRole("link", { name: /Quarantined.*0$/ })).toHaveAttribute("href", "/devices?status=quarantined");
  await expect(attention.getByRole("link", { name: /Expired.*0$/ })).toBeVisible();
  await counts.getByRole("link", { name: /Expiring in 30 days/ }).click();
  await expect(page).toHaveURL(/\/devices\?expiring=30$/);
  await expect(page.getByTestId("fleet-total")).toHaveText("0 devices");
});
