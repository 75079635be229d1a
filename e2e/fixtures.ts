// What the e2e server is started and seeded with (e2e/server.ts), shared with the specs.
import { execFileSync } from "node:child_process";
import os from "node:os";
import path from "node:path";

export const E2E_PORT = Number(process.env.E2E_PORT ?? 3210);
export const E2E_DEVICE_PORT = Number(process.env.E2E_DEVICE_PORT ?? 8643);
export const E2E_DATA_DIR = path.join(os.tmpdir(), `pss-e2e-${E2E_PORT}`);

/** the scraper's credential /metrics asks for */
export const E2E_METRICS_TOKEN = "e2e-metrics-scraper-token";
export const STAFF = { email: "staff@e2e.test", password: "staff-password-123" };
export const CUSTOMER = { name: "E2E Widgets", admin: { email: "admin@widgets.e2e.test", password: "admin-password-123" } };
export const VIEWER = { email: "viewer@widgets.e2e.test", password: "viewer-password-123" };

/** The environment of the e2e product and of `pss` commands run against it. */
const { DATABASE_URL: _notForE2e, ...inherited } = process.env;
export const E2E_ENV: NodeJS.ProcessEnv = {
  ...inherited,
  PSS_DATA_DIR: E2E_DATA_DIR,
  PORT: String(E2E_PORT),
  DEVICE_PORT: String(E2E_DEVICE_PORT),
  PSS_PUBLIC_URL: `http://localhost:${E2E_PORT}`,
  PSS_ADMIN_EMAIL: STAFF.email,
  PSS_ADMIN_PASSWORD: STAFF.password,
  NEXT_TELEMETRY_DISABLED: "1",
  LOG_LEVEL: "warn",
  METRICS_TOKEN: E2E_METRICS_TOKEN,
};

/**
 * Run a `pss` command against the e2e product's embedded database and parse its JSON. Works before the
 * server starts (it opens the database) and while it runs (it joins the server's database socket).
 */
export function pss(...args: string[]) {
  return JSON.parse(execFileSync(process.execPath, ["bin/pss.mjs", ...args, "--json"], { env: E2E_ENV, encoding: "utf8" }));
}
