// `npm test`: everything, in order — lint, type check, unit + integration tests (Vitest), build,
// end-to-end tests (Playwright in Debian's Chromium). Ends with one line "N passed, N failed".
// Options: --skip-e2e. TEST_DATABASE_URL=postgresql://… runs the integration tests against PostgreSQL.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";

const skipE2e = process.argv.includes("--skip-e2e");
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
const totals = { passed: 0, failed: 0 };

// A failing check (lint, types, build) counts as one failure in the summary, so it is never hidden.
function step(title, cmd, args, opts = {}) {
  console.log(`\n── ${title}`);
  const r = spawnSync(cmd, args, { stdio: "inherit", env: { ...env, ...opts.env } });
  if (r.status !== 0 && !opts.counted) totals.failed += 1;
  return r.status === 0;
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

function ensureChromium() {
  const path = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  if (fs.existsSync(path)) return true;
  if (process.getuid?.() !== 0) {
    console.error(`Chromium is missing at ${path}. Install it with: sudo apt-get install -y chromium (or set CHROMIUM_PATH).`);
    return false;
  }
  console.log("Installing Debian's Chromium for the end-to-end tests (apt-get install chromium)…");
  execFileSync("sh", ["-c", "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null"], {
    stdio: "inherit",
  });
  return fs.existsSync(path);
}

fs.mkdirSync("test-results", { recursive: true });
let ok = step("prisma generate", "node", ["scripts/setup.mjs"]);
ok = step("lint and format (biome)", "npx", ["biome", "check", "."]) && ok;
ok = step("type check (tsc)", "npx", ["tsc", "--noEmit", "-p", "."]) && ok;

ok =
  step(
    `unit + integration tests (vitest, ${process.env.TEST_DATABASE_URL ? "PostgreSQL" : "PGlite"})`,
    "npx",
    ["vitest", "run", "--reporter=default", "--reporter=json", "--outputFile.json=test-results/vitest.json"],
    { counted: true },
  ) && ok;
const vitest = readJson("test-results/vitest.json");
if (vitest) {
  totals.passed += vitest.numPassedTests;
  totals.failed += vitest.numFailedTests;
} else {
  totals.failed += 1;
}

if (!skipE2e) {
  ok = step("build (next build)", "npx", ["next", "build"], { env: { NODE_ENV: "production" } }) && ok;
  if (ensureChromium()) {
    ok = step("end-to-end tests (playwright, Chromium)", "npx", ["playwright", "test"], { counted: true }) && ok;
    const pw = readJson("test-results/e2e.json");
    if (pw) {
      totals.passed += pw.stats.expected;
      totals.failed += pw.stats.unexpected + (pw.stats.flaky ?? 0);
    } else totals.failed += 1;
  } else {
    ok = false;
    totals.failed += 1;
  }
}

fs.writeFileSync("test-results/summary.json", JSON.stringify({ ...totals, ok }));
console.log(`\n${totals.passed} passed, ${totals.failed} failed`);
process.exit(ok && totals.failed === 0 ? 0 : 1);
