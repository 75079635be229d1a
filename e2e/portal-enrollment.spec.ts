// The enrollment policy page and bootstrapping certificate revocation in the portal (SPEC §4, §5, §8): an
// allow-list uploaded as CSV refuses other device ids at the mTLS listener, the budget and the rate limit show,
// one-time secrets and enrollment groups; viewers read only (no buttons, direct calls refused); revoking a leaked
// bootstrapping certificate together with the devices it enrolled after a time; paging of the bootstrap list.
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, type Page, test } from "@playwright/test";
import { Device, EstError } from "../lib/device-sdk/index.ts";
import { DEVICE_URL, enrollDevice, opensslCsr, rootPem } from "./device-helpers.ts";
import { pss } from "./fixtures.ts";
import { actionId, callAction, seedCustomer, signIn } from "./portal-helpers.ts";

const ENROLLMENT = "app/(portal)/enrollment/actions.ts";
const BOOTSTRAP = "app/(portal)/bootstrap/actions.ts";

function scratch(name: string, text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pss-e2e-enr-")), name);
  fs.writeFileSync(file, text);
  return file;
}

/** A self-signed manufacturer CA (basicConstraints CA:TRUE), as a customer would upload it. */
function makerCa(cn: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-e2e-maker-"));
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${dir}/k.pem`, "-days", "30"].concat([
      "-subj",
      `/CN=${cn}/O=Maker`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-out",
      `${dir}/ca.pem`,
    ]),
    { stdio: "ignore" },
  );
  return `${dir}/ca.pem`;
}

/**
 * The verification certificate a group registration needs: signed by the maker CA's key (makerCa keeps it beside
 * the certificate) with the customer's registration code as CN — the one openssl command the portal shows.
 */
function verificationCert(caFile: string, code: string): string {
  const dir = path.dirname(caFile);
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${dir}/v.key`].concat([
      "-subj",
      `/CN=${code}`,
      "-CA",
      caFile,
      "-CAkey",
      `${dir}/k.pem`,
      "-days",
      "1",
      "-out",
      `${dir}/verification.pem`,
    ]),
    { stdio: "ignore" },
  );
  return `${dir}/verification.pem`;
}

async function downloaded(page: Page, button: string): Promise<string> {
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: button }).click();
  return fs.readFileSync(await (await download).path(), "utf8");
}

/** A bootstrapping certificate requested in the portal from an openssl CSR: what the factory loads into devices. */
async function requestBootstrap(page: Page) {
  const { key, csrFile } = opensslCsr("factory-line");
  await page.goto("/bootstrap");
  await page.getByLabel("Upload a CSR (PEM)").check();
  await page.getByLabel("CSR file").setInputFiles(csrFile);
  await page.getByRole("button", { name: "Request certificate" }).click();
  await expect(page.getByRole("status").filter({ hasText: /issued\./ })).toBeVisible();
  const cert = await downloaded(page, "Download certificate");
  const chain = await downloaded(page, "Download chain");
  return {
    bootstrapCert: cert + chain,
    bootstrapKey: key,
    serial: new X509Certificate(cert).serialNumber.toLowerCase().replace(/^0+/, ""),
  };
}

const refusal = (e: unknown) => (e instanceof EstError ? { status: e.status, code: e.code } : e);

test("admin: allow-list from a CSV upload refuses other device ids at enrollment; budget, secret and group", async ({ page }) => {
  const c = seedCustomer("Enroll Policy Co");
  await signIn(page, c.admin);
  await page.getByRole("link", { name: "Enrollment policy" }).click();
  await expect(page.getByRole("heading", { name: "Enrollment policy", level: 1 })).toBeVisible();
  await expect(page.getByTestId("allow-count")).toHaveText("Empty: any device id may enroll.");
  await expect(page.getByTestId("policy-rate")).toHaveText("600/min (server default)");

  // a bad list and a negative rate limit: the count and the first bad lines next to the field, nothing saved
  await page.getByLabel("Allow-list: or paste device ids").fill("cam-1\nbad id!\ncam_2");
  await page.getByLabel("Enrollment attempts per minute per credential").fill("-5");
  await page.getByRole("button", { name: "Save policy" }).click();
  await expect(page.getByTestId("allow-error")).toHaveText(/^2 of 3 entries are not device ids .*line 2: “bad id!”; line 3: “cam_2”$/);
  await expect(page.getByText("At least 0 (0: no limit).")).toBeVisible();
  await expect(page.getByLabel("Enrollment attempts per minute per credential")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Allow-list: or paste device ids")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Replace the allow-list with the file or text below")).toBeChecked();
  await page.reload();
  await expect(page.getByTestId("allow-count")).toHaveText("Empty: any device id may enroll.");
  await expect(page.getByTestId("policy-rate")).toHaveText("600/min (server default)");

  // the CSV upload (first column, header skipped), a budget and a rate limit
  await page.getByLabel("Allow-list: CSV file").setInputFiles(scratch("devices.csv", "deviceId,batch\nok-cam-1,b1\nok-cam-2,b1\n"));
  await expect(page.getByLabel("Replace the allow-list with the file or text below")).toBeChecked();
  await page.getByLabel("Maximum enrollments per bootstrapping certificate").fill("5");
  await page.getByLabel("Enrollment attempts per minute per credential").fill("50");
  await page.getByRole("button", { name: "Save policy" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Policy saved." })).toHaveText(
    "Policy saved. Allow-list: 2 device ids; deny-list: 0.",
  );
  await expect(page.getByTestId("allow-count")).toHaveText("2 device ids: ok-cam-1, ok-cam-2");
  await expect(page.getByTestId("policy-budget")).toHaveText("at most 5 enrollments per bootstrapping certificate");
  await expect(page.getByTestId("policy-rate")).toHaveText("50/min (customer-wide policy)");
  await expect(page.getByTestId("rate-effective")).toHaveText("In force: 50/min (customer-wide policy)");
  await expect(page.getByLabel("Enrollment attempts per minute per credential")).toHaveValue("50");

  // a one-time secret for ok-cam-2, shown once
  await page.getByLabel("Device id", { exact: true }).fill("ok-cam-2");
  await page.getByRole("button", { name: "Register secret" }).click();
  const secret = (await page.getByTestId("new-device-secret").textContent()) ?? "";
  expect(secret.length).toBeGreaterThanOrEqual(16);
  await page.reload();
  await expect(page.getByTestId("secret-row").filter({ hasText: "ok-cam-2" })).toContainText("unused");
  await expect(page.getByText(secret)).toHaveCount(0);

  // an enrollment group: the maker's CA uploaded with the verification certificate it signed for the registration
  // code the page shows (the proof that the customer holds the CA's key), a name and the admin's UID
  const code = (await page.getByTestId("registration-code").textContent()) ?? "";
  expect(code).toMatch(/^[0-9a-f]{32}$/);
  expect(pss("group", "code", "--customer", c.id).code).toBe(code);
  const line7 = makerCa("Maker Line 7 CA");
  const otherCa = makerCa("Maker Line 8 CA");
  // a verification certificate of another CA's key: refused next to its field, nothing added
  await page.getByLabel("Group name").fill("Line 7");
  await page.getByLabel("CA certificate file (PEM)").setInputFiles(line7);
  await page.getByLabel("Verification certificate file (PEM)").setInputFiles(verificationCert(otherCa, code));
  await page.getByRole("button", { name: "Add group" }).click();
  await expect(page.getByLabel("Or paste the verification certificate (PEM)")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByText("the verification certificate is not signed by the CA's key")).toBeVisible();
  await expect(page.getByTestId("group-row")).toHaveCount(0);
  await page.getByLabel("Group name").fill("Line 7");
  await page.getByLabel("UID carried by the group's devices").selectOption(c.admin.uid);
  await page.getByLabel("CA certificate file (PEM)").setInputFiles(line7);
  await page.getByLabel("Verification certificate file (PEM)").setInputFiles(verificationCert(line7, code));
  await page.getByRole("button", { name: "Add group" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Enrollment group “Line 7” added." })).toBeVisible();
  const group = page.getByTestId("group-row").filter({ hasText: "Line 7" });
  await expect(group).toContainText("CN=Maker Line 7 CA");
  await expect(group).toContainText("active");
  // not a CA: refused next to its field
  await page.getByLabel("Group name").fill("Not a CA");
  await page.getByLabel("Or paste the CA certificate (PEM)").fill("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----");
  await page.getByLabel("Or paste the verification certificate (PEM)").fill(fs.readFileSync(verificationCert(line7, code), "utf8"));
  await page.getByRole("button", { name: "Add group" }).click();
  await expect(page.getByLabel("Or paste the CA certificate (PEM)")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByText("the group's CA certificate cannot be parsed")).toBeVisible();

  // at the mTLS listener: an id not on the list is refused, a listed one enrolls (with its secret)
  const boot = await requestBootstrap(page);
  const stranger = await enrollDevice(page.request, { ...boot, deviceId: "stranger-cam" }).catch(refusal);
  expect(stranger).toEqual({ status: 403, code: "device_not_allowed" });
  await enrollDevice(page.request, { ...boot, deviceId: "ok-cam-1" });
  const noSecret = await enrollDevice(page.request, { ...boot, deviceId: "ok-cam-2" }).catch(refusal);
  expect(noSecret).toEqual({ status: 403, code: "device_secret_required" });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-e2e-sdk-"));
  await Device.enroll({ dir, url: DEVICE_URL, ca: await rootPem(page.request), ...boot, deviceId: "ok-cam-2", secret });

  // the customer-wide budget is what the bootstrap list shows for a certificate without its own
  await page.goto("/bootstrap");
  const bootRow = page.getByTestId("bootstrap-row").filter({ hasText: boot.serial });
  await expect(bootRow.getByTestId("bootstrap-usage")).toHaveText("2 / 5");
  await expect(bootRow).toContainText("enrollment rate: 50/min (customer-wide policy)");
  await page.goto("/enrollment");
  await expect(page.getByTestId("secret-row").filter({ hasText: "ok-cam-2" })).toContainText("used");

  // disabling the group
  await page.getByTestId("group-row").filter({ hasText: "Line 7" }).getByRole("button", { name: "Disable" }).click();
  await expect(page.getByTestId("group-row").filter({ hasText: "Line 7" })).toContainText("disabled");

  await page.goto("/audit");
  for (const action of ["enrollment_policy.set", "device_secret.add", "enrollment_group.add", "enrollment_group.disable"])
    await expect(page.getByTestId("audit-row").filter({ hasText: action }).first()).toBeVisible();
});

test("admin: a bootstrapping certificate's own allow-list and budget, set after issuance, hold at the listener; a stranger gets 404", async ({
  page,
  browser,
}) => {
  const c = seedCustomer("Line Policy Co");
  await signIn(page, c.admin);
  const boot = await requestBootstrap(page);
  await page.goto("/bootstrap");
  await page.getByTestId("bootstrap-row").filter({ hasText: boot.serial }).getByRole("link", { name: "Edit policy" }).click();
  await expect(page.getByRole("heading", { name: "Bootstrapping certificate policy", level: 1 })).toBeVisible();
  await expect(page.getByTestId("allow-count")).toHaveText("Empty: any device id may enroll.");
  await expect(page.getByTestId("rate-effective")).toHaveText("In force: 600/min (server default)");
  await page.getByLabel("Allow-list: or paste device ids").fill("line-a\nline-b");
  await page.getByLabel("Maximum enrollments with this certificate").fill("1");
  await page.getByLabel("Enrollment attempts per minute with this certificate").fill("0");
  await page.getByRole("button", { name: "Save policy" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Policy saved." })).toHaveText(
    "Policy saved. Allow-list: 2 device ids; deny-list: 0.",
  );
  await expect(page.getByTestId("allow-count")).toHaveText("2 device ids: line-a, line-b");
  await expect(page.getByTestId("rate-effective")).toHaveText("In force: no limit (this certificate's policy)");

  const other = await enrollDevice(page.request, { ...boot, deviceId: "line-c" }).catch(refusal);
  expect(other).toEqual({ status: 403, code: "device_not_allowed" });
  await enrollDevice(page.request, { ...boot, deviceId: "line-a" });
  const over = await enrollDevice(page.request, { ...boot, deviceId: "line-b" }).catch(refusal);
  expect(over).toEqual({ status: 403, code: "enrollment_budget_exceeded" });
  await page.goto("/bootstrap");
  const row = page.getByTestId("bootstrap-row").filter({ hasText: boot.serial });
  await expect(row.getByTestId("bootstrap-usage")).toHaveText("1 / 1");
  await expect(row).toContainText("quarantined");
  await expect(row).toContainText("2 expected device ids");
  await expect(row).toContainText("enrollment rate: no limit (this certificate's policy)");
  // the customer-wide policy is untouched
  await page.goto("/enrollment");
  await expect(page.getByTestId("allow-count")).toHaveText("Empty: any device id may enroll.");

  // another customer's admin: the certificate is not theirs
  const b = seedCustomer("Line Policy Other Co");
  const ctx = await browser.newContext();
  const stranger = await ctx.newPage();
  await signIn(stranger, b.admin);
  expect((await stranger.goto(`/bootstrap/${boot.serial}/policy`))?.status()).toBe(404);
  const r = await callAction(stranger.request, "/enrollment", actionId(ENROLLMENT, "setPolicyAction"), {
    bootstrapSerial: boot.serial,
    allowMode: "clear",
    denyMode: "keep",
    maxEnrollments: "",
    enrollUntil: "",
  });
  expect(await r.text()).toContain("No such bootstrapping certificate.");
  await ctx.close();
  await page.goto(`/bootstrap/${boot.serial}/policy`);
  await expect(page.getByTestId("allow-count")).toHaveText("2 device ids: line-a, line-b");
});

test("a viewer sees the policy read-only and every enrollment action refuses a direct call; a stranger gets 404", async ({
  page,
  browser,
}) => {
  const c = seedCustomer("Enroll Viewer Co");
  pss("policy", "set", "--customer", c.id, "--max", "7", "--allow", "v-cam-1,v-cam-2", "--rate-per-minute", "30");
  const makerA = makerCa("Maker A CA");
  const proof = verificationCert(makerA, pss("group", "code", "--customer", c.id).code);
  const group = pss(
    "group",
    "add",
    "--customer",
    c.id,
    "--name",
    "Maker A",
    "--ca",
    makerA,
    "--verification-cert",
    proof,
    "--uid",
    c.admin.uid,
  );
  await signIn(page, c.viewer);
  await page.getByRole("link", { name: "Enrollment policy" }).click();
  await expect(page.getByTestId("policy-budget")).toHaveText("at most 7 enrollments per bootstrapping certificate");
  await expect(page.getByTestId("policy-rate")).toHaveText("30/min (customer-wide policy)");
  await expect(page.getByTestId("policy-summary")).toContainText("2 device ids (v-cam-1, v-cam-2)");
  await expect(page.getByTestId("group-row").filter({ hasText: "Maker A" })).toContainText("active");
  await expect(page.getByRole("main").getByRole("button")).toHaveCount(0);
  await expect(page.getByRole("main").locator("form")).toHaveCount(0);

  const calls: [string, Record<string, string>][] = [
    ["setPolicyAction", { allowMode: "clear", denyMode: "keep", maxEnrollments: "", enrollUntil: "" }],
    ["addDeviceSecretAction", { deviceId: "v-cam-1" }],
    ["addGroupAction", { name: "Sneaky", uid: c.admin.uid, caPem: fs.readFileSync(makerCa("Sneaky CA"), "utf8") }],
    ["disableGroupAction", { groupId: group.id }],
  ];
  for (const [name, fields] of calls)
    expect((await callAction(page.request, "/enrollment", actionId(ENROLLMENT, name), fields)).status(), name).toBe(403);
  const shown = pss("policy", "show", "--customer", c.id);
  expect(shown.policies[0]).toMatchObject({
    scope: "customer",
    allowDeviceIds: ["v-cam-1", "v-cam-2"],
    maxEnrollments: 7,
    enrollRatePerMinute: 30,
  });
  await page.reload();
  await expect(page.getByTestId("group-row")).toHaveCount(1);
  await expect(page.getByTestId("secret-row")).toHaveCount(0);

  // another customer's admin: the group is not theirs (404 text), their own page shows nothing of A's
  const b = seedCustomer("Enroll Stranger");
  const ctx = await browser.newContext();
  const stranger = await ctx.newPage();
  await signIn(stranger, b.admin);
  const r = await callAction(stranger.request, "/enrollment", actionId(ENROLLMENT, "disableGroupAction"), { groupId: group.id });
  expect(await r.text()).toContain("No such enrollment group.");
  await stranger.goto("/enrollment");
  await expect(stranger.getByTestId("group-row")).toHaveCount(0);
  await expect(stranger.getByTestId("allow-count")).toHaveText("Empty: any device id may enroll.");
  await ctx.close();
  await page.reload();
  await expect(page.getByTestId("group-row").filter({ hasText: "Maker A" })).toContainText("active");
});

test("revoke a leaked bootstrapping certificate and the devices it enrolled after a time, after a confirmation", async ({
  page,
  browser,
}) => {
  const c = seedCustomer("Boot Revoke Co");
  await signIn(page, c.admin);
  const boot = await requestBootstrap(page);
  const early = await enrollDevice(page.request, { ...boot, deviceId: "rv-cam-1" });
  // the leak is noticed from the next whole second on: devices enrolled from then are suspect
  const from = Math.ceil((Date.now() + 1) / 1000) * 1000;
  await expect.poll(() => Date.now()).toBeGreaterThan(from);
  const late = await enrollDevice(page.request, { ...boot, deviceId: "rv-cam-2" });

  await page.goto("/bootstrap");
  const row = page.getByTestId("bootstrap-row").filter({ hasText: boot.serial });
  const dialog = page.getByRole("dialog");
  // cancel is a way out: nothing revoked
  await row.getByRole("button", { name: "Revoke…" }).click();
  await expect(dialog).toContainText("It enrolled 2 devices.");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await expect(dialog).toBeHidden();
  await expect(row).toContainText("active");

  // the time is required once "also revoke devices" is ticked: the error sits next to it
  await row.getByRole("button", { name: "Revoke…" }).click();
  await dialog.getByLabel("Reason").selectOption("keyCompromise");
  await dialog.getByLabel("Also revoke the certificates of devices it enrolled after a time").check();
  await dialog.getByRole("button", { name: "Revoke certificate" }).click();
  await expect(dialog.getByText("Choose the time from which enrolled devices are revoked.")).toBeVisible();
  await expect(row).toContainText("active");
  await dialog.getByLabel("Devices enrolled at or after (UTC)").fill(new Date(from).toISOString().slice(0, 19));
  await dialog.getByRole("button", { name: "Revoke certificate" }).click();
  await expect(dialog).toBeHidden();
  await expect(row.getByRole("status")).toHaveText("Revoked; 1 device certificate revoked.");
  await expect(row).toContainText("revoked");

  // at the listener: the bootstrapping certificate and the late device are refused, the early one still rotates
  const again = await enrollDevice(page.request, { ...boot, deviceId: "rv-cam-3" }).catch(refusal);
  expect(again).toMatchObject({ status: 403 });
  expect(await late.rotate({ force: true }).catch(refusal)).toMatchObject({ status: 403 });
  expect(await early.rotate({ force: true })).toBe(true);
  await page.goto("/audit?action=certificate.revoke");
  await expect(page.getByTestId("audit-row").filter({ hasText: boot.serial })).toContainText('"clientTlsRevoked":1');

  // a viewer has no revoke button and a direct call is refused; another customer's admin gets 404
  const ctxV = await browser.newContext();
  const viewer = await ctxV.newPage();
  await signIn(viewer, c.viewer);
  await viewer.goto("/bootstrap");
  await expect(viewer.getByTestId("bootstrap-row").filter({ hasText: boot.serial })).toContainText("revoked");
  await expect(viewer.getByRole("button", { name: /Revoke/ })).toHaveCount(0);
  const revokeId = actionId(BOOTSTRAP, "revokeBootstrapAction");
  const fields = { serial: boot.serial, reason: "keyCompromise", alsoRevokeDevices: "on", enrolledAfter: "2020-01-01T00:00:00" };
  expect((await callAction(viewer.request, "/bootstrap", revokeId, fields)).status()).toBe(403);
  const b = seedCustomer("Boot Revoke Stranger");
  const ctxB = await browser.newContext();
  const stranger = await ctxB.newPage();
  await signIn(stranger, b.admin);
  expect(await (await callAction(stranger.request, "/bootstrap", revokeId, fields)).text()).toContain("No such bootstrapping certificate.");
  await Promise.all([ctxV.close(), ctxB.close()]);
  // the early device was not touched by either call
  expect(await early.rotate({ force: true })).toBe(true);
});

test("the bootstrap list pages through the URL", async ({ page }) => {
  const c = seedCustomer("Boot Paging Co");
  const serials = [1, 2, 3].map(
    (i) => pss("cert", "issue", "--profile", "bootstrap", "--csr", opensslCsr(`page-${i}`).csrFile, "--uid", c.admin.uid).serial,
  );
  await signIn(page, c.admin);
  await page.goto("/bootstrap?size=2");
  await expect(page.getByTestId("bootstrap-row")).toHaveCount(2);
  const pager = page.getByRole("navigation", { name: "Bootstrapping certificates pages" });
  await expect(pager).toContainText("Page 1 of 2 (3 in all)");
  await expect(page.getByTestId("bootstrap-row").first()).toContainText(serials[2]);
  await pager.getByRole("link", { name: "Next page" }).click();
  await expect(page).toHaveURL(/page=2&size=2/);
  await expect(page.getByTestId("bootstrap-row")).toHaveCount(1);
  await expect(page.getByTestId("bootstrap-row")).toContainText(serials[0]);
  await page.goto("/bootstrap?page=oops&size=-1");
  await expect(page.getByTestId("bootstrap-row")).toHaveCount(3);
});
