#!/usr/bin/env node
// `npx pss …`: the project's TypeScript, run through tsx so the CLI needs no build step. The CLI is server
// code, so it runs under the "react-server" export condition (what `import "server-only"` modules expect).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

if (!process.execArgv.includes("--conditions=react-server")) {
  const r = spawnSync(
    process.execPath,
    ["--conditions=react-server", ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: "inherit",
    },
  );
  process.exit(r.status ?? 1);
}

const { register } = await import("tsx/esm/api");
register();
await import("../cli/main.ts");
