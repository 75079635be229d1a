#!/usr/bin/env node
// `npx pss …`: the project's TypeScript, run through tsx so the CLI needs no build step. The CLI is server
// code, so it runs under the "react-server" export condition (what `import "server-only"` modules expect).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

// A 64 MiB young generation, as `npm start` gives the server (package.json): issuance and the device listener
// allocate per request, and the default 16 MiB promotes in-flight requests' objects to the old generation
// (`pss bench enroll`: 7–20% less CPU per keep-alive enrollment). A flag given to node explicitly wins.
const HEAP = process.execArgv.some((a) => a.startsWith("--max-semi-space-size")) ? [] : ["--max-semi-space-size=64"];

// `npm start` runs in the project folder, so its default data directory is the project's .data: the CLI opens
// that same embedded database wherever it is run from (its own file arguments stay relative to where it runs).
process.env.PSS_DATA_DIR ||= fileURLToPath(new URL("../.data", import.meta.url));

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
// The project's tsconfig by path, not the working directory's: its "@/" paths resolve wherever pss is run from.
register({ tsconfig: fileURLToPath(new URL("../tsconfig.json", import.meta.url)) });
await import("../cli/main.ts");
