// Playwright's web server: a fresh embedded database, seeded through the real `pss` CLI, then the
// built product exactly as `npm start` runs it.
import { spawn } from "node:child_process";
import fs from "node:fs";
import { CUSTOMER, E2E_DATA_DIR, E2E_ENV, pss, VIEWER } from "./fixtures.ts";

fs.rmSync(E2E_DATA_DIR, { recursive: true, force: true });
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

const server = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], { env: E2E_ENV, stdio: "inherit" });
const stop = () => server.kill("SIGTERM");
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
server.on("exit", (code) => {
  fs.rmSync(E2E_DATA_DIR, { recursive: true, force: true });
  process.exit(code ?? 0);
});
