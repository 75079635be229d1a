// The `pss` command line's contract for scripts: with --json, every outcome is one JSON object on stdout.
import { execFile, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";

// Each test runs several `pss` processes one after another (each opens its own embedded database): on a busy
// 2-core machine a test takes 15–55 s, too close to the 60 s default.
vi.setConfig({ testTimeout: 240_000 });

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-cli-"));
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

function pss(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      ["bin/pss.mjs", ...args],
      { encoding: "utf8", timeout: 60_000, env: { ...process.env, PSS_DATA_DIR: dataDir, ...env } },
      (e, out) => resolve({ code: e ? Number(e.code) : 0, out }),
    ),
  );
}

describe("pss --json", () => {
  it("an unknown command is a usage error as JSON (exit 2)", async () => {
    const r = await pss(["ca", "bogus", "--json"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toEqual({ error: { code: "usage", message: "unknown command: ca bogus" } });
  });

  it("an unknown command is named by the words before its flags: a flag's value (a password) is not echoed", async () => {
    const r = await pss(["user", "creat", "--email", "a@b.test", "--password", "S3CRET-hunter2-value", "--json"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toEqual({ error: { code: "usage", message: "unknown command: user creat" } });
    expect(r.out).not.toContain("S3CRET");
  });

  it("a PSS_PUBLIC_URL that is no URL stops the command before anything is issued", async () => {
    const r = await pss(["ca", "list", "--json"], { PSS_PUBLIC_URL: "not a url" });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).error.message).toMatch(/PSS_PUBLIC_URL must be an http\(s\) URL/);
    expect(fs.readdirSync(dataDir)).toEqual([]);
  });
});

describe("revocation URLs", () => {
  it("are plain http: an https PSS_PUBLIC_URL needs PSS_REVOCATION_URL, which the CA certificates then name", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-cli-rev-"));
    const https = { PSS_DATA_DIR: dir, PSS_PUBLIC_URL: "https://pki.example.test" };
    try {
      const refused = await pss(["init", "--json"], https);
      expect(refused.code).toBe(1);
      expect(JSON.parse(refused.out).error.message).toMatch(/set PSS_REVOCATION_URL/);
      expect(fs.readdirSync(dir)).toEqual([]);
      const both = { ...https, PSS_REVOCATION_URL: "http://crl.pki.example.test" };
      expect((await pss(["init", "--json"], both)).code).toBe(0);
      const pem = await pss(["ca", "export", "tls-intermediate"], both);
      const text = await new Promise<string>((resolve, reject) => {
        const p = execFile("openssl", ["x509", "-noout", "-text"], { encoding: "utf8" }, (e, out) => (e ? reject(e) : resolve(out)));
        p.stdin?.end(pem.out);
      });
      expect(text).toMatch(/URI:http:\/\/crl\.pki\.example\.test\/crl\/[0-9a-f-]+\.crl/);
      expect(text).toContain("OCSP - URI:http://crl.pki.example.test/ocsp");
      expect(text).not.toContain("https://pki.example.test");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("pss master-key rotate", () => {
  it("with the embedded key file: a new key file, and the CA keeps signing under it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-cli-mk-"));
    const noKey = { PSS_DATA_DIR: dir, PSS_MASTER_KEY: "" };
    try {
      expect((await pss(["init", "--json"], noKey)).code).toBe(0);
      const before = fs.readFileSync(path.join(dir, "master.key"), "utf8");
      const r = await pss(["master-key", "rotate", "--json"], noKey);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ resealed: 4, keyFile: path.join(dir, "master.key") });
      expect(fs.readFileSync(path.join(dir, "master.key"), "utf8")).not.toBe(before);
      expect(r.out).not.toContain(before.trim());
      expect((await pss(["crl", "publish", "--all", "--json"], noKey)).code).toBe(0);
      // a key from the environment is the operator's to replace: they must bring the new one
      const fromEnv = await pss(["master-key", "rotate", "--json"], { PSS_DATA_DIR: dir, PSS_MASTER_KEY: before.trim() });
      expect(JSON.parse(fromEnv.out).error.code).toBe("master_key_mismatch");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a P-384 root (SPEC §2: P-384 allowed for the root)", () => {
  it("PSS_ROOT_KEY_ALGORITHM=ECDSA-P384: a P-384 root signs the intermediates with SHA-384; issued chains verify", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-cli-p384-"));
    const run = (args: string[], input?: string) =>
      execFileSync("openssl", args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
    try {
      const env = { PSS_DATA_DIR: dir, PSS_ROOT_KEY_ALGORITHM: "ECDSA-P384" };
      expect((await pss(["init", "--json"], env)).code).toBe(0);
      const made = JSON.parse(
        (await pss(["customer", "create", "--name", "Curve Co", "--admin-email", "a@curve.test", "--json"], env)).out,
      );
      const key = path.join(dir, "dev.key");
      const csr = path.join(dir, "dev.csr");
      run(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
      run(["req", "-new", "-key", key, "-subj", "/serialNumber=p384-dev-1", "-out", csr]);
      const issued = await pss(["cert", "issue", "--profile", "client-tls", "--csr", csr, "--uid", made.user.uid, "--json"], env);
      expect(issued.code).toBe(0);
      const { certificate, chain } = JSON.parse(issued.out) as { certificate: string; chain: string[] };
      const root = chain.at(-1)!;
      const rootText = run(["x509", "-noout", "-text"], root);
      expect(rootText).toContain("NIST CURVE: P-384");
      expect(rootText).toContain("ecdsa-with-SHA384");
      // the TLS Intermediate under it: a P-256 key, signed by the root with SHA-384
      const intermediate = run(["x509", "-noout", "-text"], chain.at(-2)!);
      expect(intermediate).toContain("NIST CURVE: P-256");
      expect(intermediate).toContain("Signature Algorithm: ecdsa-with-SHA384");
      fs.writeFileSync(path.join(dir, "root.pem"), root);
      fs.writeFileSync(path.join(dir, "chain.pem"), chain.slice(0, -1).join(""));
      fs.writeFileSync(path.join(dir, "leaf.pem"), certificate);
      const verify = run([
        "verify",
        "-x509_strict",
        "-purpose",
        "sslclient",
        "-CAfile",
        path.join(dir, "root.pem"),
        "-untrusted",
        path.join(dir, "chain.pem"),
        path.join(dir, "leaf.pem"),
      ]);
      expect(verify).toContain("leaf.pem: OK");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a root key algorithm that is not allowed stops the command", async () => {
    const out = await pss(["init", "--json"], { PSS_ROOT_KEY_ALGORITHM: "RSA-2048" });
    expect(out.code).toBe(1);
    expect(JSON.parse(out.out).error).toMatchObject({ code: "config_invalid", message: expect.stringContaining("PSS_ROOT_KEY_ALGORITHM") });
  });
});

describe("secrets from files", () => {
  it("pss customer create --admin-password-file takes the password from a file, never echoed; both forms at once are refused", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-cli-pw-"));
    try {
      const file = path.join(dir, "pw.txt");
      fs.writeFileSync(file, "a-password-from-a-file-1\n", { mode: 0o600 });
      const env = { PSS_DATA_DIR: dir };
      expect((await pss(["init", "--json"], env)).code).toBe(0);
      const made = await pss(
        ["customer", "create", "--name", "File Pw Co", "--admin-email", "admin@filepw.test", "--admin-password-file", file, "--json"],
        env,
      );
      expect(made.code).toBe(0);
      expect(made.out).not.toContain("a-password-from-a-file-1");
      const both = await pss(
        [
          "user",
          "create",
          "--email",
          "v@filepw.test",
          "--role",
          "STAFF",
          "--password",
          "x-long-password-9",
          "--password-file",
          file,
          "--json",
        ],
        env,
      );
      expect(both.code).toBe(2);
      expect(JSON.parse(both.out).error).toMatchObject({ code: "usage", message: "give --password or --password-file, not both" });
      const missing = await pss(
        ["user", "create", "--email", "w@filepw.test", "--role", "STAFF", "--password-file", path.join(dir, "nope"), "--json"],
        env,
      );
      expect(JSON.parse(missing.out).error.code).toBe("file_unreadable");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("pss policy set --rate-per-minute", () => {
  it("sets, shows and clears (inherit) a customer's enrollment rate limit; a blank, negative or too high one is refused", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-cli-rate-"));
    try {
      const env = { PSS_DATA_DIR: dir };
      const run = async (...args: string[]) => {
        const r = await pss([...args, "--json"], env);
        return { code: r.code, json: JSON.parse(r.out) };
      };
      expect((await run("init")).code).toBe(0);
      const made = await run("customer", "create", "--name", "Rate Cli Co", "--admin-email", "admin@ratecli.test");
      const customer = made.json.customer.id as string;
      expect((await run("policy", "set", "--customer", customer, "--rate-per-minute", "45")).json).toMatchObject({
        enrollRatePerMinute: 45,
      });
      expect((await run("policy", "show", "--customer", customer)).json).toMatchObject({
        policies: [{ scope: "customer", enrollRatePerMinute: 45 }],
        defaultEnrollRatePerMinute: 600,
      });
      for (const bad of ["", "-3"])
        expect(await run("policy", "set", "--customer", customer, `--rate-per-minute=${bad}`), bad).toMatchObject({
          code: 2,
          json: { error: { code: "usage" } },
        });
      expect(await run("policy", "set", "--customer", customer, "--rate-per-minute", "1000001")).toMatchObject({
        code: 1,
        json: { error: { code: "policy_invalid" } },
      });
      expect((await run("policy", "set", "--customer", customer, "--rate-per-minute", "inherit")).json).toMatchObject({
        enrollRatePerMinute: null,
      });
      // a chosen device secret from a file (kept out of the process list); both forms at once are refused
      const secretFile = path.join(dir, "device-secret");
      fs.writeFileSync(secretFile, "a-chosen-device-secret-1234\n", { mode: 0o600 });
      expect(
        await run("device", "secret", "add", "--customer", customer, "--device-id", "cli-dev-1", "--secret-file", secretFile),
      ).toMatchObject({
        code: 0,
        json: { deviceId: "cli-dev-1", secret: "a-chosen-device-secret-1234" },
      });
      expect(
        await run(
          "device",
          "secret",
          "add",
          "--customer",
          customer,
          "--device-id",
          "cli-dev-2",
          "--secret-file",
          secretFile,
          "--secret",
          "x",
        ),
      ).toMatchObject({ code: 2, json: { error: { code: "usage" } } });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
