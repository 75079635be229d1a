// Bootstrapping certificates in the portal (SPEC §5, §8): generated in the browser or from an uploaded CSR,
// downloads, enrollment budget → quarantine → release, field errors, viewers and strangers.
import { execFileSync } from "node:child_process";
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, type Page, test } from "@playwright/test";
import { EstError } from "../lib/device-sdk/index.ts";
import { enrollDevice, opensslCsr, rootPem } from "./device-helpers.ts";
import { actionId, callAction, seedCustomer, signIn } from "./portal-helpers.ts";

const ACTIONS = "app/(portal)/bootstrap/actions.ts";

async function downloaded(page: Page, button: string): Promise<string> {
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: button }).click();
  return fs.readFileSync(await (await download).path(), "utf8");
}

test("generate in the browser: certificate, chain and private key download; openssl verifies; the key stays in the browser", async ({
  page,
}) => {
  const c = seedCustomer("Boot Gen Co");
  await signIn(page, c.admin);
  const bodies: string[] = [];
  page.on("request", (r) => {
    const b = r.postDataBuffer();
    if (b) bodies.push(b.toString("latin1"));
  });
  await page.goto("/bootstrap");
  await expect(page.getByText("No bootstrapping certificates yet.")).toBeVisible();
  await page.getByLabel("Maximum enrollments").fill("5");
  await page.getByLabel("Expected device ids").fill("deviceId\ncam-a\ncam-b");
  await page.getByRole("button", { name: "Generate key and request certificate" }).click();
  await expect(page.getByRole("status").filter({ hasText: /Bootstrapping certificate [0-9a-f]+ issued\./ })).toBeVisible();

  const cert = await downloaded(page, "Download certificate");
  const chain = await downloaded(page, "Download chain");
  const key = await downloaded(page, "Download private key (PEM)");
  const x509 = new X509Certificate(cert);
  expect(x509.subjectAltName).toContain(c.admin.uid);
  expect(createPublicKey(createPrivateKey(key)).export({ format: "jwk" })).toEqual(x509.publicKey.export({ format: "jwk" }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-e2e-boot-"));
  fs.writeFileSync(`${dir}/root.pem`, await rootPem(page.request));
  fs.writeFileSync(`${dir}/chain.pem`, chain);
  fs.writeFileSync(`${dir}/cert.pem`, cert);
  expect(
    execFileSync("openssl", ["verify", "-CAfile", `${dir}/root.pem`, "-untrusted", `${dir}/chain.pem`, `${dir}/cert.pem`], {
      encoding: "utf8",
    }),
  ).toContain("OK");
  const d = String((createPrivateKey(key).export({ format: "jwk" }) as { d: string }).d);
  expect(bodies.join("\n")).toContain("BEGIN CERTIFICATE REQUEST");
  expect(bodies.join("\n")).not.toContain(d);
  expect(bodies.join("\n")).not.toContain("PRIVATE KEY");

  const serial = x509.serialNumber.toLowerCase().replace(/^0+/, "");
  await page.reload();
  const row = page.getByTestId("bootstrap-row").filter({ hasText: serial });
  await expect(row).toContainText("active");
  await expect(row.getByTestId("bootstrap-usage")).toHaveText("0 / 5");
  await expect(row).toContainText("2 expected device ids");
});

test("an uploaded CSR with a budget of one: the second device quarantines it, the admin releases it", async ({ page, browser }) => {
  const c = seedCustomer("Boot Budget Co");
  const { key, csrFile } = opensslCsr("factory-line-1");
  await signIn(page, c.admin);
  await page.goto("/bootstrap");
  await page.getByLabel("Upload a CSR (PEM)").check();
  await page.getByLabel("CSR file").setInputFiles(csrFile);
  await page.getByLabel("Maximum enrollments").fill("1");
  await page.getByRole("button", { name: "Request certificate" }).click();
  await expect(page.getByRole("status").filter({ hasText: /issued\./ })).toBeVisible();
  await expect(page.getByRole("button", { name: "Download private key (PEM)" })).toHaveCount(0);
  const cert = await downloaded(page, "Download certificate");
  const chain = await downloaded(page, "Download chain");
  const serial = new X509Certificate(cert).serialNumber.toLowerCase().replace(/^0+/, "");

  await enrollDevice(page.request, { bootstrapCert: cert + chain, bootstrapKey: key, deviceId: "budget-cam-1" });
  const second = await enrollDevice(page.request, { bootstrapCert: cert + chain, bootstrapKey: key, deviceId: "budget-cam-2" }).catch(
    (e: unknown) => e,
  );
  expect(second).toBeInstanceOf(EstError);
  expect((second as EstError).status).toBe(403);

  await page.reload();
  const row = page.getByTestId("bootstrap-row").filter({ hasText: serial });
  await expect(row).toContainText("quarantined");
  await expect(row.getByTestId("bootstrap-usage")).toHaveText("1 / 1");

  // a viewer sees it, but has no forms, and a direct release is refused; another customer's admin gets 404
  const ctxV = await browser.newContext();
  const viewer = await ctxV.newPage();
  await signIn(viewer, c.viewer);
  await viewer.goto("/bootstrap");
  await expect(viewer.getByTestId("bootstrap-row").filter({ hasText: serial })).toContainText("quarantined");
  await expect(viewer.getByRole("button", { name: /Release|Request|Generate/ })).toHaveCount(0);
  const releaseId = actionId(ACTIONS, "releaseBootstrapAction");
  expect((await callAction(viewer.request, "/bootstrap", releaseId, { serial })).status()).toBe(403);
  const requestId = actionId(ACTIONS, "requestBootstrapAction");
  expect((await callAction(viewer.request, "/bootstrap", requestId, { mode: "generate", csr: opensslCsr("v").csr })).status()).toBe(403);
  const b = seedCustomer("Boot Stranger");
  const ctxB = await browser.newContext();
  const stranger = await ctxB.newPage();
  await signIn(stranger, b.admin);
  expect(await (await callAction(stranger.request, "/bootstrap", releaseId, { serial })).text()).toContain(
    "No such bootstrapping certificate.",
  );
  await stranger.goto("/bootstrap");
  await expect(stranger.getByTestId("bootstrap-row")).toHaveCount(0);
  await Promise.all([ctxV.close(), ctxB.close()]);

  await page.reload();
  await page.getByTestId("bootstrap-row").filter({ hasText: serial }).getByRole("button", { name: "Release quarantine" }).click();
  await expect(page.getByTestId("bootstrap-row").filter({ hasText: serial })).toContainText("active");
  await page.goto("/audit?action=bootstrap.release");
  await expect(page.getByTestId("audit-row").filter({ hasText: serial })).toHaveCount(1);
});

test("form errors sit next to their fields", async ({ page }) => {
  const c = seedCustomer("Boot Errors Co");
  await signIn(page, c.admin);
  await page.goto("/bootstrap");
  await page.getByLabel("Upload a CSR (PEM)").check();
  await page.getByLabel("Maximum enrollments").fill("many");
  await page.getByLabel("Enroll until (UTC)").fill("2020-01-01T00:00");
  await page.getByLabel("Expected device ids").fill("cam-1\nbad id!");
  await page.getByRole("button", { name: "Request certificate" }).click();
  await expect(page.getByLabel("CSR file")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByText("Choose a CSR file (PEM).")).toBeVisible();
  await expect(page.getByText("A whole number.")).toBeVisible();
  await expect(page.getByText("Must be in the future.")).toBeVisible();
  await expect(page.getByText(/Not a device id .* on line 2: “bad id!”/)).toBeVisible();
  await expect(page.getByLabel("Maximum enrollments")).toHaveValue("many");

  const bad = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pss-e2e-bad-")), "bad.csr");
  fs.writeFileSync(bad, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n");
  await page.getByLabel("Upload a CSR (PEM)").check();
  await page.getByLabel("CSR file").setInputFiles(bad);
  await page.getByLabel("Maximum enrollments").fill("");
  await page.getByLabel("Enroll until (UTC)").fill("");
  await page.getByLabel("Expected device ids").fill("");
  await page.getByRole("button", { name: "Request certificate" }).click();
  // a known refusal of the signing core: its own message, never internals
  const alert = page.getByRole("alert").filter({ hasText: /\S/ });
  await expect(alert).toHaveCount(1);
  await expect(alert).not.toContainText(/Something went wrong|prisma|TypeError|at .*\.ts/i);
  await page.reload();
  await expect(page.getByTestId("bootstrap-row")).toHaveCount(0);
});
