// Vitest global setup: migrate one database for the whole run, in a child process (the wasm schema
// engine allows one instance per process). PGlite by default; TEST_DATABASE_URL selects PostgreSQL.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { createTestTokens } from "../lib/pki/testing/softhsm.ts";

export default function setup(project: TestProject) {
  const pgUrl = process.env.TEST_DATABASE_URL;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: "test" };
  let template = "";
  if (pgUrl) {
    childEnv.DATABASE_URL = pgUrl;
  } else {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-test-template-"));
    delete childEnv.DATABASE_URL;
    childEnv.PSS_DATA_DIR = dataDir;
    template = path.join(dataDir, "pglite");
  }
  execFileSync(process.execPath, ["--import", "tsx", "scripts/migrate.ts", "deploy"], { env: childEnv, stdio: "inherit" });
  const softHsmConf = project.config.env?.SOFTHSM2_CONF;
  let tokens: string | null = null;
  try {
    if (softHsmConf) createTestTokens(softHsmConf);
    tokens = softHsmConf ?? null;
  } catch (e) {
    // only the PKCS#11 tests need it: they fail with their own message
    console.warn(`no SoftHSM2 test tokens: ${(e as Error).message.split("\n")[0]}`);
  }
  project.provide("softHsmConf", tokens);
  project.provide("pssTestDb", pgUrl ? { kind: "postgres", url: pgUrl } : { kind: "pglite", dir: template });
  return () => {
    if (template) fs.rmSync(path.dirname(template), { recursive: true, force: true });
    if (softHsmConf) fs.rmSync(path.dirname(softHsmConf), { recursive: true, force: true });
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    pssTestDb: { kind: "pglite"; dir: string } | { kind: "postgres"; url: string };
  }
}
