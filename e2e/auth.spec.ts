import { expect, type Page, test } from "@playwright/test";
import { E2E_METRICS_TOKEN, STAFF, VIEWER } from "./fixtures.ts";

async function signIn(page: Page, who: { email: string; password: string }) {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

test("staff signs in, sees the navigation, signs out", async ({ page }) => {
  await signIn(page, STAFF);
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Main" });
  for (const section of ["Customers", "CA hierarchy", "Device fleet", "Audit log"]) {
    await expect(nav.getByRole("link", { name: section })).toBeVisible();
  }
  await expect(page.getByTestId("role")).toHaveText("Staff");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin/);
  await page.goto("/customers");
  await expect(page).toHaveURL(/\/signin/);
});

test("a wrong password shows an error and no session", async ({ page }) => {
  await signIn(page, { email: STAFF.email, password: "not-the-password" });
  await expect(page.getByText("Wrong email or password.")).toBeVisible();
  await page.goto("/");
  await expect(page).toHaveURL(/\/signin/);
});

test("a customer viewer cannot open staff pages", async ({ page }) => {
  await signIn(page, VIEWER);
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Customers" })).toHaveCount(0);
  for (const path of ["/customers", "/ca"]) {
    const response = await page.goto(path);
    expect(response?.status()).toBe(403);
    await expect(page.getByRole("heading", { name: "403 — Not allowed" })).toBeVisible();
  }
});

test("health and metrics answer", async ({ request }) => {
  const health = await request.get("/api/health");
  expect(health.status()).toBe(200);
  expect(await health.json()).toMatchObject({ status: "ok", database: { ok: true, kind: "embedded" } });
  // METRICS_TOKEN is set: a scrape without it (or with another) learns nothing
  const anonymous = await request.get("/metrics");
  expect(anonymous.status()).toBe(401);
  expect(anonymous.headers()["www-authenticate"]).toContain("Bearer");
  expect(await anonymous.text()).not.toContain("pss_");
  expect((await request.get("/metrics", { headers: { authorization: "Bearer not-the-token-at-all" } })).status()).toBe(401);
  const metrics = await (await request.get("/metrics", { headers: { authorization: `Bearer ${E2E_METRICS_TOKEN}` } })).text();
  expect(metrics).toContain("pss_http_requests_total");
});
