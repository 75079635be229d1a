import os from "node:os";
import path from "node:path";
import { defineConfig } from "vitest/config";
import { newSoftHsmConf } from "./lib/pki/testing/softhsm.ts";

export default defineConfig({
  resolve: { alias: { "@": path.resolve(import.meta.dirname) } },
  test: {
    include: ["lib/**/*.test.ts", "server/**/*.test.ts", "cli/**/*.test.ts", "scripts/**/*.test.ts", "tests/**/*.test.ts"],
    globalSetup: ["tests/global-setup.ts"],
    // A fixed test master key (never a production one) and a scratch data dir, so tests touch nothing in ./.data.
    env: {
      PSS_MASTER_KEY: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
      PSS_DATA_DIR: path.join(os.tmpdir(), "pss-vitest-data"),
      PSS_PUBLIC_URL: "http://127.0.0.1:3999",
      LOG_LEVEL: "silent",
      // the SoftHSM2 tokens the global setup makes (lib/pki/testing/softhsm.ts)
      SOFTHSM2_CONF: newSoftHsmConf(),
    },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
