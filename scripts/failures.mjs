// Names the tests that failed in Vitest and Playwright JSON reports, with the first line of each error, so a
// failing CI run says which test failed even when only its last lines are kept.
// Usage: node scripts/failures.mjs REPORT.json [REPORT.json …]   (a missing report is skipped)
import fs from "node:fs";

const ANSI_COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
const firstLine = (text) =>
  String(text ?? "")
    .replace(ANSI_COLOUR, "")
    .split("\n")
    .find((l) => l.trim())
    ?.trim()
    .slice(0, 300) ?? "";

/** Vitest's JSON report: testResults[].assertionResults[]; a file that failed to load has no assertions. */
function vitestFailures(report) {
  const out = [];
  for (const file of report.testResults ?? []) {
    const failed = (file.assertionResults ?? []).filter((a) => a.status === "failed");
    for (const a of failed) out.push({ name: `${file.name} › ${a.fullName}`, error: firstLine(a.failureMessages?.[0]) });
    if (!failed.length && file.status === "failed") out.push({ name: file.name, error: firstLine(file.message) });
  }
  return out;
}

/** Playwright's JSON report: nested suites of specs; a test that is not "expected" failed or was flaky. */
function playwrightFailures(report) {
  const out = [];
  const walk = (suite, path) => {
    for (const spec of suite.specs ?? []) {
      for (const t of spec.tests ?? []) {
        if (t.status === "expected" || t.status === "skipped") continue;
        const err = t.results?.find((r) => r.errors?.length)?.errors[0]?.message;
        out.push({ name: `${[...path, spec.title].join(" › ")} (${t.status})`, error: firstLine(err) });
      }
    }
    for (const s of suite.suites ?? []) walk(s, [...path, s.title]);
  };
  for (const s of report.suites ?? []) walk(s, [s.title]);
  for (const e of report.errors ?? []) out.push({ name: "(outside a test)", error: firstLine(e.message) });
  return out;
}

for (const file of process.argv.slice(2)) {
  let report;
  try {
    report = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    continue;
  }
  const failures = report.config?.projects ? playwrightFailures(report) : vitestFailures(report);
  for (const f of failures) console.log(`FAILED ${file}: ${f.name}${f.error ? `\n    ${f.error}` : ""}`);
}
