// Payload-signing keys in the portal (SPEC §4, §8): generate in the browser (the private key never reaches the
// server), paste a JWK + proof of possession, re-authentication for further keys, disable — and who may do it.
import { createPrivateKey, createPublicKey } from "node:crypto";
import fs from "node:fs";
import { expect, type Page, test } from "@playwright/test";
import { calculateJwkThumbprint, type JWK } from "jose";
import { publicJwk, signKeyRegistration } from "../lib/api/sign.ts";
import { ecKey } from "../lib/api/testing/keys.ts";
import { actionId, callAction, seedCustomer, signIn } from "./portal-helpers.ts";

const ACTIONS = "app/(portal)/keys/actions.ts";

/** Every request body the page sends (to prove what never leaves the browser). */
function recordBodies(page: Page): string[] {
  const bodies: string[] = [];
  page.on("request", (r) => {
    const body = r.postDataBuffer();
    if (body) bodies.push(body.toString("latin1"));
  });
  return bodies;
}

test("a customer admin generates a key in the browser, downloads the private key, and it never reaches the server", async ({ page }) => {
  const c = seedCustomer("Keys Co");
  await signIn(page, c.admin);
  const bodies = recordBodies(page);
  await page.goto("/keys");
  await expect(page.getByText("No keys yet.")).toBeVisible();
  await page.getByLabel("Your password").fill(c.admin.password);
  await page.getByRole("button", { name: "Generate and register key" }).click();
  await expect(page.getByRole("status").filter({ hasText: /Key .* registered\./ })).toBeVisible();
  await expect(page.getByTestId("key-row")).toHaveCount(1);
  await expect(page.getByTestId("key-row")).toContainText("ES256");
  await expect(page.getByTestId("key-row")).toContainText("active");

  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download private key (PEM)" }).click();
  const pemText = fs.readFileSync(await (await download).path(), "utf8");
  expect(pemText).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
  const priv = createPrivateKey(pemText);
  const kid = await calculateJwkThumbprint(createPublicKey(priv).export({ format: "jwk" }) as JWK, "sha256");
  await expect(page.getByTestId("key-row")).toContainText(kid);

  const d = String((priv.export({ format: "jwk" }) as JWK).d);
  const pkcs8 = pemText.replace(/-----[^-]+-----|\s/g, "");
  const sent = bodies.join("\n");
  expect(sent).toMatch(/name="[^"]*jws"/); // the proof of possession was sent…
  expect(sent).not.toContain(d); // …but never the private scalar
  expect(sent).not.toContain(pkcs8.slice(0, 60));
  expect(sent).not.toContain("PRIVATE KEY");
});

test("a further key needs the password again; a pasted JWK must match its proof of possession; disable", async ({ page }) => {
  const c = seedCustomer("Rotate Co");
  await signIn(page, c.admin);
  await page.goto("/keys");
  await page.getByLabel("Your password").fill(c.admin.password);
  await page.getByRole("button", { name: "Generate and register key" }).click();
  await expect(page.getByTestId("key-row")).toHaveCount(1);

  // a second key, wrong password: the error sits next to the password field, nothing is registered
  await page.getByLabel("Your password").fill("not-my-password");
  await page.getByRole("button", { name: "Generate and register key" }).click();
  await expect(page.getByText("Wrong password.")).toBeVisible();
  await expect(page.getByLabel("Your password")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByTestId("key-row")).toHaveCount(1);

  // paste: a key made elsewhere; first with a different JWK, then its own
  const key = ecKey();
  const jws = await signKeyRegistration(key);
  await page.getByLabel(/Paste a public key/).check();
  await page.getByLabel("Public key (JWK or PEM)").fill(JSON.stringify(publicJwk(ecKey().privateKey)));
  await page.getByLabel("Proof of possession (JWS)").fill(jws);
  await page.getByLabel("Your password").fill(c.admin.password);
  await page.getByRole("button", { name: "Register key" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "The pasted public key is not the key that signed" })).toBeVisible();

  await page.getByLabel("Public key (JWK or PEM)").fill(JSON.stringify(publicJwk(key.privateKey)));
  await page.getByLabel("Proof of possession (JWS)").fill(jws);
  await page.getByLabel("Your password").fill(c.admin.password);
  await page.getByRole("button", { name: "Register key" }).click();
  await expect(page.getByRole("status").filter({ hasText: /Key .* registered\./ })).toBeVisible();
  await expect(page.getByTestId("key-row")).toHaveCount(2);

  // the same proof again: its nonce is spent
  await page.getByLabel("Public key (JWK or PEM)").fill(JSON.stringify(publicJwk(key.privateKey)));
  await page.getByLabel("Proof of possession (JWS)").fill(jws);
  await page.getByLabel("Your password").fill(c.admin.password);
  await page.getByRole("button", { name: "Register key" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /nonce|already registered/i })).toBeVisible();
  await expect(page.getByTestId("key-row")).toHaveCount(2);

  const pasted = await calculateJwkThumbprint(publicJwk(key.privateKey), "sha256");
  const row = page.getByTestId("key-row").filter({ hasText: pasted });
  await row.getByRole("button", { name: "Disable" }).click();
  await expect(row).toContainText("disabled");
  await expect(row.getByRole("button", { name: "Disable" })).toHaveCount(0);

  await page.goto("/audit?action=signing_key.register");
  await expect(page.getByTestId("audit-row").filter({ hasText: "portal re-authentication" }).first()).toBeVisible();
  await expect(page.getByTestId("audit-row").filter({ hasText: "refused" }).first()).toBeVisible();
});

test("a viewer reads the page without forms; direct calls are refused; another customer's admin cannot disable A's key", async ({
  browser,
}) => {
  const a = seedCustomer("Key Owner");
  const b = seedCustomer("Key Stranger");
  const ctxA = await browser.newContext();
  const pageA = await ctxA.newPage();
  await signIn(pageA, a.admin);
  await pageA.goto("/keys");
  await pageA.getByLabel("Your password").fill(a.admin.password);
  await pageA.getByRole("button", { name: "Generate and register key" }).click();
  await expect(pageA.getByTestId("key-row")).toHaveCount(1);
  const kid = ((await pageA.getByTestId("key-row").locator("td").first().textContent()) ?? "").trim();
  expect(kid).toMatch(/^[A-Za-z0-9_-]{43}$/);

  const ctxV = await browser.newContext();
  const viewer = await ctxV.newPage();
  await signIn(viewer, a.viewer);
  await viewer.goto("/keys");
  await expect(viewer.getByRole("heading", { name: "Payload-signing keys" })).toBeVisible();
  await expect(viewer.getByRole("button", { name: /register/i })).toHaveCount(0);
  await expect(viewer.getByRole("button", { name: "Disable" })).toHaveCount(0);
  const disableId = actionId(ACTIONS, "disableSigningKeyAction");
  expect((await callAction(viewer.request, "/keys", disableId, { kid })).status()).toBe(403);
  const registerId = actionId(ACTIONS, "registerSigningKeyAction");
  const jws = await signKeyRegistration(ecKey());
  expect(
    (await callAction(viewer.request, "/keys", registerId, { mode: "paste", jws, jwk: "", password: a.viewer.password })).status(),
  ).toBe(403);

  const ctxB = await browser.newContext();
  const pageB = await ctxB.newPage();
  await signIn(pageB, b.admin);
  const res = await callAction(pageB.request, "/keys", disableId, { kid });
  expect(await res.text()).toContain("No such payload-signing key.");

  await pageA.reload();
  await expect(pageA.getByTestId("key-row")).toContainText("active");
  await Promise.all([ctxA.close(), ctxV.close(), ctxB.close()]);
});
