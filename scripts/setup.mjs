// Prepares a checkout to run: generates the Prisma client (offline: the CLI only needs *some* engine
// path for `generate`), and with --build builds the Next.js app when no build exists yet.
import { execFileSync } from "node:child_process";
import fs from "node:fs";

const run = (cmd, args, env = {}) => execFileSync(cmd, args, { stdio: "inherit", env: { ...process.env, ...env } });

if (
  !fs.existsSync("generated/prisma/client.ts") ||
  fs.statSync("prisma/schema.prisma").mtimeMs > fs.statSync("generated/prisma/client.ts").mtimeMs
) {
  run("npx", ["prisma", "generate"], { PRISMA_SCHEMA_ENGINE_BINARY: "/bin/true", PRISMA_HIDE_UPDATE_MESSAGE: "1" });
}
if (process.argv.includes("--build") && !fs.existsSync(".next/BUILD_ID")) {
  console.log("No build found: building the portal (next build)…");
  run("npx", ["next", "build"], { NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production" });
}
