// Helpers of the portal specs: sign-in, per-test customers and devices seeded through the `pss` CLI, and
// direct server-action calls (to prove an action refuses what the UI hides).
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type APIRequestContext, expect, type Page } from "@playwright/test";
import { pss } from "./fixtures.ts";

export async function signIn(page: Page, who: { email: string; password: string }) {
  await page.goto("/signin");
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel("Password").fill(who.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
}

export type SeededCustomer = {
  id: string;
  name: string;
  admin: { email: string; password: string; uid: string };
  viewer: { email: string; password: string };
};

/** A fresh customer with an admin and a viewer, unique to the calling test. */
export function seedCustomer(label: string): SeededCustomer {
  const tag = randomUUID().slice(0, 8);
  const name = `${label} ${tag}`;
  const admin = { email: `admin-${tag}@portal.e2e.test`, password: `admin-pw-${tag}-1234` };
  const viewer = { email: `viewer-${tag}@portal.e2e.test`, password: `viewer-pw-${tag}-1234` };
  const out = pss("customer", "create", "--name", name, "--admin-email", admin.email, "--admin-password", admin.password);
  pss("user", "create", "--email", viewer.email, "--role", "CUSTOMER_VIEWER", "--customer", out.customer.id, "--password", viewer.password);
  return { id: out.customer.id, name, admin: { ...admin, uid: out.user.uid }, viewer };
}

/** A device of the customer (its client TLS certificate issued from an openssl CSR): the certificate serial. */
export function seedDevice(uid: string, deviceId: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-e2e-dev-"));
  try {
    execFileSync(
      "openssl",
      ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", `${dir}/k.pem`].concat([
        "-subj",
        `/serialNumber=${deviceId}/CN=${deviceId}`,
        "-out",
        `${dir}/req.csr`,
      ]),
      { stdio: "ignore" },
    );
    return pss("cert", "issue", "--profile", "client-tls", "--csr", `${dir}/req.csr`, "--uid", uid).serial;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The id Next.js gave a server action in this build (what a browser sends in the Next-Action header). */
export function actionId(filename: string, exportedName: string): string {
  const manifest = JSON.parse(fs.readFileSync(".next/server/server-reference-manifest.json", "utf8")) as {
    node: Record<string, { filename: string; exportedName: string }>;
  };
  const hit = Object.entries(manifest.node).find(([, v]) => v.filename === filename && v.exportedName === exportedName);
  if (!hit) throw new Error(`no server action ${exportedName} in ${filename}`);
  return hit[0];
}

/**
 * Call a server action directly, as a hand-crafted request would, encoding (prevState, FormData) the way
 * React's encodeReply does. `raw` sends a malformed argument list instead.
 */
export async function callAction(
  request: APIRequestContext,
  pagePath: string,
  id: string,
  fields: Record<string, string> | { raw: string },
) {
  if ("raw" in fields) {
    return request.post(pagePath, { headers: { "Next-Action": id, "Content-Type": "text/plain;charset=UTF-8" }, data: fields.raw });
  }
  // the form's entries first, the root model ("0") last, exactly as the browser sends them
  const parts: [string, string][] = Object.entries(fields).map(([k, v]) => [`_1_${k}`, v]);
  parts.push(["0", JSON.stringify([{ status: "idle" }, "$K1"])]);
  const boundary = `----pss${randomUUID().replace(/-/g, "")}`;
  const body = `${parts.map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join("")}--${boundary}--\r\n`;
  return request.post(pagePath, {
    headers: { "Next-Action": id, "Content-Type": `multipart/form-data; boundary=${boundary}`, Accept: "text/x-component" },
    data: Buffer.from(body),
  });
}
