// The `pss` command line's contract for scripts: with --json, every outcome is one JSON object on stdout.
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

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

  it("a PSS_PUBLIC_URL that is no URL stops the command before anything is issued", async () => {
    const r = await pss(["ca", "list", "--json"], { PSS_PUBLIC_URL: "not a url" });
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).error.message).toMatch(/PSS_PUBLIC_URL must be an http\(s\) URL/);
    expect(fs.readdirSync(dataDir)).toEqual([]);
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
