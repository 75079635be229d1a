import { defineConfig } from "@playwright/test";
import { E2E_PORT } from "./e2e/fixtures.ts";

// Debian's Chromium (apt-get install chromium), never `npx playwright install` (no downloads here).
export default defineConfig({
  testDir: "./e2e",
  // tests that seed through several `pss` processes take 15–40 s on a busy 2-core machine
  timeout: 120_000,
  expect: { timeout: 15_000 },
  retries: 0,
  workers: 1,
  reporter: [["list"], ["json", { outputFile: "test-results/e2e.json" }]],
  use: {
    baseURL: `http://localhost:${E2E_PORT}`,
    browserName: "chromium",
    headless: true,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--disable-dev-shm-usage",
      ],
    },
  },
  webServer: {
    // The product must be built first (`npm test` does it).
    command: "node --import tsx e2e/server.ts",
    url: `http://localhost:${E2E_PORT}/api/health`,
    reuseExistingServer: false,
    timeout: 180_000,
    stdout: "pipe",
    stderr: "pipe",
  },
});
