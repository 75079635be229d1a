// Playwright's web server: a fresh embedded database, seeded through the real `pss` CLI, then the
// built product exactly as `npm start` runs it.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CUSTOMER, E2E_DEVICE_PORT, E2E_PORT, STAFF, VIEWER } from "./fixtures.ts";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-e2e-"));
const env: NodeJS.ProcessEnv = {
  ...process.env,
  PSS_DATA_DIR: dataDir,
  PORT: String(E2E_PORT),
  DEVICE_PORT: String(E2E_DEVICE_PORT),
  PSS_ADMIN_EMAIL: STAFF.email,
  PSS_ADMIN_PASSWORD: STAFF.password,
  NEXT_TELEMETRY_DISABLED: "1",
  LOG_LEVEL: "warn",
};
delete env.DATABASE_URL;

const pss = (...args: string[]) =>
  JSON.parse(execFileSync(process.execPath, ["bin/pss.mjs", ...args, "--json"], { env, encoding: "utf8" }));
pss("init");
const onboarded = pss(
  "customer",
  "create",
  "--name",
  CUSTOMER.name,
  "--admin-email",
  CUSTOMER.admin.email,
  "--admin-password",
  CUSTOMER.admin.password,
);
pss(
  "user",
  "create",
  "--email",
  VIEWER.email,
  "--role",
  "CUSTOMER_VIEWER",
  "--customer",
  onboarded.customer.id,
  "--password",
  VIEWER.password,
);

const server = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], { env, stdio: "inherit" });
const stop = () => server.kill("SIGTERM");
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
server.on("exit", (code) => {
  fs.rmSync(dataDir, { recursive: true, force: true });
  process.exit(code ?? 0);
});
