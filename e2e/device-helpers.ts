// A device in the e2e specs: the device SDK (lib/device-sdk) against the e2e server's mTLS listener, trusting
// the TLS Root CA the portal publishes at /ca/root.pem.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { APIRequestContext } from "@playwright/test";
import { Device } from "../lib/device-sdk/index.ts";
import { E2E_DEVICE_PORT } from "./fixtures.ts";

export const DEVICE_URL = `https://localhost:${E2E_DEVICE_PORT}`;

export async function rootPem(request: APIRequestContext): Promise<string> {
  const res = await request.get("/ca/root.pem");
  if (res.status() !== 200) throw new Error(`/ca/root.pem answered ${res.status()}`);
  return res.text();
}

/** Enroll a device over mTLS with a bootstrapping certificate (+ intermediates) and its key; a fresh state dir. */
export async function enrollDevice(
  request: APIRequestContext,
  input: { bootstrapCert: string; bootstrapKey: string; deviceId: string },
): Promise<Device> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-e2e-sdk-"));
  return Device.enroll({ dir, url: DEVICE_URL, ca: await rootPem(request), ...input });
}

/** An openssl-made P-256 key and CSR (what a factory tool would upload); `subject` defaults to /CN=<cn>. */
export function opensslCsr(cn: string, subject = `/CN=${cn}`): { key: string; csr: string; csrFile: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-e2e-csr-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${dir}/k.pem`,
      "-subj",
      subject,
      "-out",
      `${dir}/req.csr`,
    ],
    { stdio: "ignore" },
  );
  return { key: fs.readFileSync(`${dir}/k.pem`, "utf8"), csr: fs.readFileSync(`${dir}/req.csr`, "utf8"), csrFile: `${dir}/req.csr` };
}
