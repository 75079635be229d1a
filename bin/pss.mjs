#!/usr/bin/env node
// `npx pss …`: the project's TypeScript, run through tsx so the CLI needs no build step. The CLI is server
// code, so it runs under the "react-server" export condition (what `import "server-only"` modules expect).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

// A 64 MiB young generation, as `npm start` gives the server (package.json): issuance and the device listener
// allocate per request, and the default 16 MiB promotes in-flight requests' objects to the old generation
// (`pss bench enroll`: 7–20% less CPU per keep-alive enrollment). A flag given to node explicitly wins.
const HEAP = process.execArgv.some((a) => a.startsWith("--max-semi-space-size")) ? [] : ["--max-semi-space-size=64"];

if (!process.execArgv.includes("--conditions=react-server")) {
  const r = spawnSync(
    process.execPath,
    ["--conditions=react-server", ...HEAP, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: "inherit",
    },
  );
  process.exit(r.status ?? 1);
}

const { register } = await import("tsx/esm/api");
register();
await import("../cli/main.ts");
