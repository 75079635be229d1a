import { expect, test } from "@playwright/test";
import { actionId, callAction, seedCustomer, signIn } from "./portal-helpers.ts";

const token = (request: import("@playwright/test").APIRequestContext, clientId: string, clientSecret: string) =>
  request.post("/api/v1/oauth/token", { form: { grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret } });

test("an admin adds a user with API credentials and rotates a client secret: the old secret stops working", async ({ page, request }) => {
  const c = seedCustomer("Users Co");
  await signIn(page, c.admin);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users and API clients" }).click();
  await expect(page.getByRole("heading", { name: "Users and API clients" })).toBeVisible();

  // field errors next to their fields
  await page.getByLabel("Email").fill("not-an-email");
  await page.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByText("enter an email address")).toBeVisible();

  const email = `added-${Date.now()}@users.e2e.test`;
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Role").selectOption("CUSTOMER_VIEWER");
  await page.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByText(`User ${email} created`)).toBeVisible();
  const clientId = (await page.getByTestId("new-API client id").textContent())!;
  const firstSecret = (await page.getByTestId("new-API client secret").textContent())!;
  expect((await token(request, clientId, firstSecret)).status()).toBe(200);

  await page.reload();
  await page.getByRole("button", { name: `Rotate secret ${clientId}` }).click();
  await expect(page.getByText("Secret rotated: the old secret no longer works")).toBeVisible();
  const newSecret = (await page.getByTestId("new-API client secret").textContent())!;
  expect(newSecret).not.toBe(firstSecret);
  expect((await token(request, clientId, firstSecret)).status()).toBe(401);
  expect((await token(request, clientId, newSecret)).status()).toBe(200);

  await page.reload();
  await page.getByRole("button", { name: `Disable ${clientId}` }).click();
  // the page re-renders: the client is listed as disabled and offers no more actions
  const item = page.getByRole("listitem").filter({ hasText: clientId });
  await expect(item.getByText("disabled")).toBeVisible();
  await expect(item.getByRole("button")).toHaveCount(0);
  expect((await token(request, clientId, newSecret)).status()).toBe(401);
});

test("a viewer sees users but no mutation buttons; direct calls are refused; another customer's client answers not found", async ({
  page,
  browser,
}) => {
  const a = seedCustomer("Users A");
  const b = seedCustomer("Users B");
  await signIn(page, a.viewer);
  await page.goto("/users");
  await expect(page.getByRole("cell", { name: a.admin.email })).toBeVisible();
  await expect(page.getByRole("button", { name: /Rotate secret/ })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Add user" })).toHaveCount(0);
  const rotate = actionId("app/(portal)/users/actions.ts", "rotateSecretAction");
  const clientId = (await page.getByRole("cell").locator("code").filter({ hasText: /^pss_/ }).first().textContent())!;
  expect((await callAction(page.request, "/users", rotate, { clientId })).status()).toBe(403);

  // B's admin cannot rotate A's client
  const ctx = await browser.newContext();
  const pageB = await ctx.newPage();
  await signIn(pageB, b.admin);
  const res = await callAction(pageB.request, "/users", rotate, { clientId });
  expect(await res.text()).toContain("No such API client.");
  await ctx.close();
});
