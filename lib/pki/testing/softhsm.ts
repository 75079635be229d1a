// SoftHSM2 tokens for the PKCS#11 key store's tests. SoftHSM reads its token directory once, when a process
// first initializes the library, so the tokens are made before any test process starts (Vitest's global setup)
// and every test process finds them through SOFTHSM2_CONF, which vitest.config.ts sets per run (two runs side by
// side each have their own tokens); the global setup provides the path to the tests too.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inject } from "vitest";
import type { Pkcs11Config } from "../pkcs11.ts";

export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";
/** A configuration path of this test run's own (called once, by vitest.config.ts). */
export const newSoftHsmConf = () => path.join(os.tmpdir(), `pss-vitest-softhsm-${process.pid}`, "softhsm2.conf");
/** the key store's token, another one for the "wrong token" cases, and one only `pss hsm prune`'s test uses */
export const TEST_TOKENS = { main: "pss-test", other: "pss-test-other", prune: "pss-test-prune" } as const;
export const TEST_PIN = "4711-pss";

/** Creates the test tokens afresh (throws when SoftHSM2 is not installed: `npm test` installs it). */
export function createTestTokens(conf: string): void {
  const dir = path.dirname(conf);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, "tokens"), { recursive: true });
  fs.writeFileSync(conf, `directories.tokendir = ${path.join(dir, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  for (const label of Object.values(TEST_TOKENS))
    execFileSync("softhsm2-util", ["--init-token", "--free", "--label", label, "--so-pin", "so-4711", "--pin", TEST_PIN], {
      env: { ...process.env, SOFTHSM2_CONF: conf },
      stdio: "ignore",
    });
}

/** This run's SoftHSM2 configuration, as the global setup made it (the library itself reads SOFTHSM2_CONF). */
function testConf(): string {
  const conf = inject("softHsmConf");
  if (!conf) throw new Error("no SoftHSM2 test tokens: is softhsm2 installed? (`npm test` installs it)");
  return conf;
}

declare module "vitest" {
  export interface ProvidedContext {
    softHsmConf: string | null;
  }
}

export function testTokenConfig(tokenLabel: string = TEST_TOKENS.main, pin = TEST_PIN): Pkcs11Config {
  if (!fs.existsSync(SOFTHSM_MODULE)) throw new Error(`SoftHSM2 is not installed (${SOFTHSM_MODULE}): npm test installs it`);
  return { module: SOFTHSM_MODULE, tokenLabel, pin };
}

/** The environment that points a `pss` process at the test token. */
export function testTokenEnv(tokenLabel: string = TEST_TOKENS.main, pin = TEST_PIN): Record<string, string> {
  return { SOFTHSM2_CONF: testConf(), PSS_PKCS11_MODULE: SOFTHSM_MODULE, PSS_PKCS11_TOKEN_LABEL: tokenLabel, PSS_PKCS11_PIN: pin };
}
