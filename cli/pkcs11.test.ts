// `pss` with its CA keys on a PKCS#11 token from the first `pss init` (SoftHSM2): every CA of the hierarchy is
// made on the token, what it issues passes openssl verify, and a process pointed at another token, with a
// wrong PIN or with no token fails closed before it signs.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { openssl, scratchDir } from "../lib/pki/testing/ca-fixture.ts";
import { TEST_TOKENS, testTokenEnv } from "../lib/pki/testing/softhsm.ts";

// Each test runs several `pss` processes one after another (each opens its own embedded database): on a busy
// 2-core machine a test takes 15–55 s, too close to the 60 s default.
vi.setConfig({ testTimeout: 240_000 });

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-cli-pkcs11-"));
const files = scratchDir();
afterAll(() => {
  fs.rmSync(dataDir, { recursive: true, force: true });
  files.cleanup();
});

type Out = { code: number; json: Record<string, unknown> & { error?: { code: string; message: string } } };

function pss(args: string[], env: Record<string, string> = testTokenEnv()): Promise<Out> {
  // no inherited key-store settings: each case names its own
  const { PSS_MASTER_KEY: _m, ...base } = process.env;
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      ["bin/pss.mjs", ...args, "--json"],
      { encoding: "utf8", timeout: 120_000, env: { ...base, PSS_DATA_DIR: dataDir, ...env } },
      (e, out) => resolve({ code: e ? Number(e.code) : 0, json: JSON.parse(out || "{}") }),
    ),
  );
}

describe("pss on a PKCS#11 token", () => {
  it("init, customer create and cert issue: every CA key on the token, a chain openssl verifies", async () => {
    const init = await pss(["init"]);
    expect(init.code).toBe(0);
    const customer = await pss(["customer", "create", "--name", "Token Co", "--admin-email", "admin@token.example"]);
    expect(customer.code).toBe(0);
    const cas = (await pss(["ca", "list"])).json.cas as { kind: string; keyStore: string }[];
    expect(cas.map((c) => c.kind).sort()).toEqual(
      ["APPLICATION", "BOOTSTRAP_INTERMEDIATE", "BOOTSTRAP_ISSUING", "CUSTOMER_TLS_ISSUING", "ROOT", "TLS_INTERMEDIATE"].sort(),
    );
    expect(new Set(cas.map((c) => c.keyStore))).toEqual(new Set(["pkcs11"]));

    const key = files.write("device.key", openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout"]).out);
    const csr = path.join(files.dir, "device.csr");
    expect(openssl(["req", "-new", "-key", key, "-subj", "/serialNumber=tok-1/CN=tok-1", "-outform", "DER", "-out", csr]).code).toBe(0);
    const uid = (customer.json.user as { uid: string }).uid;
    const cert = await pss(["cert", "issue", "--profile", "client-tls", "--csr", csr, "--uid", uid]);
    expect(cert.code).toBe(0);
    const chain = cert.json.chain as string[];
    const verified = openssl([
      "verify",
      "-x509_strict",
      "-purpose",
      "sslclient",
      "-CAfile",
      files.write("root.pem", chain.at(-1)!),
      "-untrusted",
      files.write("chain.pem", chain.slice(0, -1).join("")),
      files.write("leaf.pem", cert.json.certificate as string),
    ]);
    expect(verified.out).toContain("leaf.pem: OK");
    expect(await pss(["crl", "publish", "--all"])).toMatchObject({ code: 0 });
  });

  it.each<[string, Record<string, string>, string]>([
    ["another token than the one the keys were made on", testTokenEnv(TEST_TOKENS.other), "pkcs11_token_mismatch"],
    ["a wrong PIN", testTokenEnv(TEST_TOKENS.main, "not-the-pin"), "pkcs11_login_failed"],
    // embedded: the master key file exists, but the keys are not sealed under it
    ["no token configured", {}, "pkcs11_not_configured"],
  ])("refuses to sign with %s", async (_name, env, code) => {
    const r = await pss(["crl", "publish", "--all"], env);
    expect(r.code).not.toBe(0);
    expect(r.json.error?.code).toBe(code);
    expect(JSON.stringify(r.json)).not.toContain("4711-pss");
  });

  it("pss hsm prune: a replaced CSR request's key pair is destroyed; the keys CAs use stay", async () => {
    // a token and database of this test's own: prune destroys what the database does not name
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-cli-prune-"));
    const env = { ...testTokenEnv(TEST_TOKENS.prune), PSS_DATA_DIR: dir };
    const run = (args: string[]) => pss(args, env);
    try {
      expect((await run(["init"])).code).toBe(0);
      const customer = await run(["customer", "create", "--name", "Prune Co", "--admin-email", "admin@prune.example"]);
      const id = (customer.json.customer as { id: string }).id;
      const first = await run(["ca", "external-csr", "--customer", id]);
      expect((await run(["ca", "external-csr", "--customer", id])).code).toBe(0); // replaces the first request
      const dry = await run(["hsm", "prune", "--dry-run"]);
      expect(dry.json).toEqual({ orphans: [`ca/${first.json.pendingId}`], destroyed: 0 });
      expect((await run(["hsm", "prune"])).json).toEqual({ orphans: [`ca/${first.json.pendingId}`], destroyed: 2 });
      expect((await run(["hsm", "prune", "--dry-run"])).json).toEqual({ orphans: [], destroyed: 0 });
      expect((await run(["crl", "publish", "--all"])).code).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
