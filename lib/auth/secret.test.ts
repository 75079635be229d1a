// The generated session secret of the embedded database: an unusable file fails closed.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

/** authSecret() in a fresh process with the given data directory (it reads its environment once). */
function authSecretIn(dataDir: string) {
  const env = { ...process.env, PSS_DATA_DIR: dataDir, NEXTAUTH_SECRET: "", DATABASE_URL: "" };
  const script =
    'import("./lib/auth/secret.ts").then((m) => m.authSecret()).then((s) => console.log(s.length), (e) => console.log("error: " + e.message))';
  return execFileSync(process.execPath, ["--import", "tsx", "-e", script], { env, encoding: "utf8" }).trim();
}

describe("authSecret with the embedded database", () => {
  it("generates a 0600 secret once, and refuses an empty file instead of signing with it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-secret-"));
    try {
      expect(authSecretIn(dir)).toBe("43");
      expect(fs.statSync(path.join(dir, "auth-secret")).mode & 0o777).toBe(0o600);
      fs.writeFileSync(path.join(dir, "auth-secret"), "");
      expect(authSecretIn(dir)).toMatch(/^error: .*auth-secret holds no usable secret/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
