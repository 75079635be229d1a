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

const onPath = (bin) => spawnSync("sh", ["-c", `command -v ${bin}`], { stdio: "ignore" }).status === 0;

/**
 * Debian packages the tests need on the machine: Chromium for the end-to-end tests; openssl and curl, the
 * second implementation that checks what the product issues; SoftHSM2, the PKCS#11 token of the key store tests. Installed with apt when missing and run as root.
 */
function ensurePackages(wanted) {
  const missing = wanted.filter((w) => !w.present());
  if (!missing.length) return true;
  const pkgs = missing.map((m) => m.pkg).join(" ");
  if (process.getuid?.() !== 0) {
    console.error(`Missing for the tests: ${pkgs}. Install with: sudo apt-get install -y ${pkgs}`);
    return false;
  }
  console.log(`Installing Debian's ${pkgs} for the tests (apt-get install)…`);
  execFileSync("sh", ["-c", `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkgs} >/dev/null`], {
    stdio: "inherit",
  });
  return missing.every((m) => m.present());
}

const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TOOLS = [
  { pkg: "openssl", present: () => onPath("openssl") },
  { pkg: "curl", present: () => onPath("curl") },
  // the PKCS#11 key store's tests run against a SoftHSM2 token (SPEC §2)
  { pkg: "softhsm2", present: () => onPath("softhsm2-util") },
];

fs.mkdirSync("test-results", { recursive: true });
let ok = step("prisma generate", "node", ["scripts/setup.mjs"]);
ok = step("lint and format (biome)", "npx", ["biome", "check", "."]) && ok;
ok = step("type check (tsc)", "npx", ["tsc", "--noEmit", "-p", "."]) && ok;
ok = ensurePackages(TOOLS) && ok;

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
  if (ensurePackages([{ pkg: "chromium", present: () => fs.existsSync(chromium) }])) {
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
spawnSync("node", ["scripts/failures.mjs", "test-results/vitest.json", ...(skipE2e ? [] : ["test-results/e2e.json"])], {
  stdio: "inherit",
});
console.log(`\n${totals.passed} passed, ${totals.failed} failed`);
process.exit(ok && totals.failed === 0 ? 0 : 1);
