// Certificate and device detail (SPEC §8): decoded fields, PEM, revoke and decommission — and who may do it.
import { expect, test } from "@playwright/test";
import { actionId, callAction, seedCustomer, seedDevice, signIn } from "./portal-helpers.ts";

test("a customer admin sees the decoded certificate and revokes it", async ({ page }) => {
  const c = seedCustomer("Revoker Co");
  const serial = seedDevice(c.admin.uid, "rev-cam-1");
  await signIn(page, c.admin);
  await page.goto(`/devices?q=rev-cam-1`);
  await page.getByTestId("fleet-row").getByRole("link", { name: serial }).click();
  await expect(page.getByRole("heading", { name: `Certificate ${serial}` })).toBeVisible();
  await expect(page.getByText(c.admin.uid).first()).toBeVisible();
  await expect(page.getByText("clientAuth")).toBeVisible();
  await expect(page.getByText(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)).toBeVisible();
  await expect(page.getByText(/Customer TLS Issuing CA|TLS Issuing/).first()).toBeVisible();
  const pem = await page.request.get(`/certificates/${serial}/pem?chain=1`);
  expect(pem.status()).toBe(200);
  expect((await pem.text()).match(/BEGIN CERTIFICATE/g)?.length).toBeGreaterThanOrEqual(3);

  await page.getByLabel("Revocation reason").selectOption("keyCompromise");
  await page.getByRole("button", { name: "Revoke certificate" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Certificate revoked." })).toBeVisible();
  await page.reload();
  await expect(page.getByTestId("cert-status")).toHaveText("revoked");
  await expect(page.getByText(/\(keyCompromise\)/)).toBeVisible();
  await expect(page.getByRole("button", { name: "Revoke certificate" })).toHaveCount(0);

  await page.goto(`/devices?q=rev-cam-1`);
  await expect(page.getByTestId("fleet-row")).toContainText("revoked");
});

test("a customer admin decommissions a device: every certificate it holds is revoked", async ({ page }) => {
  const c = seedCustomer("Decom Co");
  seedDevice(c.admin.uid, "dec-cam-1");
  await signIn(page, c.admin);
  await page.goto(`/devices?q=dec-cam-1`);
  await page.getByTestId("fleet-row").getByRole("link", { name: "dec-cam-1" }).click();
  await page.getByRole("button", { name: "Decommission device" }).click();
  await expect(page.getByText(/Device decommissioned: 1 certificates revoked/)).toBeVisible();
  await page.reload();
  await expect(page.getByRole("cell", { name: "revoked" })).toHaveCount(1);
});

test("a customer admin resets a device id: its certificates are revoked and it awaits its next enrollment", async ({ page }) => {
  const c = seedCustomer("Reset Co");
  seedDevice(c.admin.uid, "rst-cam-1");
  await signIn(page, c.admin);
  await page.goto(`/devices?q=rst-cam-1`);
  await page.getByTestId("fleet-row").getByRole("link", { name: "rst-cam-1" }).click();
  const form = page.getByRole("form", { name: "Reset device id" });
  // a named credential must be a serial, and the customer's own bootstrapping certificate
  const credential = form.getByLabel(/Re-enroll with bootstrapping certificate/);
  await credential.fill("not-a-serial");
  await form.getByRole("button", { name: "Reset device id" }).click();
  await expect(form.getByText("not a certificate serial")).toBeVisible();
  await credential.fill("0123abcd");
  await form.getByRole("button", { name: "Reset device id" }).click();
  await expect(form.getByText("No such bootstrapping certificate.")).toBeVisible();
  await credential.fill("");
  await form.getByLabel("Reason").selectOption("keyCompromise");
  await form.getByRole("button", { name: "Reset device id" }).click();
  await expect(page.getByText(/Device id reset: 1 certificates revoked; its next enrollment re-enrolls it/)).toBeVisible();
  await page.reload();
  await expect(page.getByText("reset: awaiting enrollment")).toBeVisible();
  await expect(page.getByText("This device id is reset: its next enrollment re-enrolls it.")).toBeVisible();
  await expect(page.getByRole("cell", { name: "revoked" })).toHaveCount(1);
  await page.getByRole("cell", { name: "revoked" }).locator("xpath=..").getByRole("link").click();
  await expect(page.getByText(/\(keyCompromise\)/)).toBeVisible();
});

test("cross-tenant: customer B gets 404 on A's certificate, device and PEM; A still sees them", async ({ browser }) => {
  const a = seedCustomer("Owner A");
  const b = seedCustomer("Stranger B");
  const serial = seedDevice(a.admin.uid, "own-cam-1");

  const ctxA = await browser.newContext();
  const pageA = await ctxA.newPage();
  await signIn(pageA, a.admin);
  await pageA.goto(`/devices?q=own-cam-1`);
  await pageA.getByTestId("fleet-row").getByRole("link", { name: "own-cam-1" }).click();
  await expect(pageA.getByRole("heading", { name: "Device own-cam-1" })).toBeVisible();
  const devicePath = new URL(pageA.url()).pathname;
  expect((await pageA.goto(`/certificates/${serial}`))?.status()).toBe(200);

  const ctxB = await browser.newContext();
  const pageB = await ctxB.newPage();
  await signIn(pageB, b.admin);
  expect((await pageB.goto(`/certificates/${serial}`))?.status()).toBe(404);
  expect((await pageB.goto(devicePath))?.status()).toBe(404);
  expect((await pageB.request.get(`/certificates/${serial}/pem`)).status()).toBe(404);

  // B's admin calls the revoke and decommission actions on A's objects directly: refused, nothing changes
  const revoke = await callAction(
    pageB.request,
    `/certificates/${serial}`,
    actionId("app/(portal)/certificates/actions.ts", "revokeCertificateAction"),
    {
      serial,
      reason: "keyCompromise",
    },
  );
  expect(await revoke.text()).toContain("No such certificate.");
  const decom = await callAction(pageB.request, devicePath, actionId("app/(portal)/devices/actions.ts", "decommissionDeviceAction"), {
    deviceRef: devicePath.split("/").at(-1) ?? "",
    reason: "keyCompromise",
  });
  expect(await decom.text()).toContain("No such device.");

  await pageA.goto(`/certificates/${serial}`);
  await expect(pageA.getByRole("button", { name: "Revoke certificate" })).toBeVisible();
  await ctxA.close();
  await ctxB.close();
});

test("a viewer sees no mutation buttons and a direct action call is refused", async ({ page }) => {
  const c = seedCustomer("Viewer Co");
  const serial = seedDevice(c.admin.uid, "view-cam-1");
  await signIn(page, c.viewer);
  await page.goto(`/certificates/${serial}`);
  await expect(page.getByRole("heading", { name: `Certificate ${serial}` })).toBeVisible();
  await expect(page.getByRole("button", { name: "Revoke certificate" })).toHaveCount(0);
  await page.goto(`/devices?q=view-cam-1`);
  await page.getByTestId("fleet-row").getByRole("link", { name: "view-cam-1" }).click();
  await expect(page.getByRole("heading", { name: "Device view-cam-1" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Decommission device" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Reset device id" })).toHaveCount(0);
  const deviceRef = new URL(page.url()).pathname.split("/").at(-1) ?? "";
  const reset = await callAction(page.request, `/devices/${deviceRef}`, actionId("app/(portal)/devices/actions.ts", "resetDeviceAction"), {
    deviceRef,
    reason: "superseded",
  });
  expect(reset.status()).toBe(403);
  await page.reload();
  await expect(page.getByText("reset: awaiting enrollment")).toHaveCount(0);

  const res = await callAction(
    page.request,
    `/certificates/${serial}`,
    actionId("app/(portal)/certificates/actions.ts", "revokeCertificateAction"),
    {
      serial,
      reason: "keyCompromise",
    },
  );
  expect(res.status()).toBe(403);
  await page.goto(`/certificates/${serial}`);
  await expect(page.getByTestId("cert-status")).toHaveText("active");
  await expect(page.getByText(/\(keyCompromise\)/)).toHaveCount(0);
});

test("an unexpected server error shows a generic message, never internal text", async ({ page }) => {
  const c = seedCustomer("Errors Co");
  const serial = seedDevice(c.admin.uid, "err-cam-1");
  await signIn(page, c.admin);
  // a malformed argument list (no FormData) makes the action fail in a way no code path expects
  const res = await callAction(
    page.request,
    `/certificates/${serial}`,
    actionId("app/(portal)/certificates/actions.ts", "revokeCertificateAction"),
    {
      raw: JSON.stringify([{ status: "idle" }, "not form data"]),
    },
  );
  const body = await res.text();
  expect(body).toContain("Something went wrong. The error was logged; please try again.");
  expect(body).not.toMatch(/TypeError|is not a function|at .*\.ts:\d+|prisma/i);
});
