// Files of the data directory: secret files written whole, the embedded database's folder private.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { privateDir, writeNewSecretFile } from "./target.ts";

const dirs: string[] = [];
const scratch = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "pss-target-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const mode = (p: string) => fs.statSync(p).mode & 0o777;

describe("writeNewSecretFile", () => {
  it("writes the file 0600, keeps the first of two writers and leaves no temporary file", () => {
    const d = scratch();
    const file = path.join(d, "secret");
    writeNewSecretFile(file, "first");
    writeNewSecretFile(file, "second");
    expect(fs.readFileSync(file, "utf8")).toBe("first");
    expect(mode(file)).toBe(0o600);
    expect(fs.readdirSync(d)).toEqual(["secret"]);
  });
});

describe("privateDir", () => {
  it("creates the folder 0700 and tightens an existing one", () => {
    const d = scratch();
    expect(mode(privateDir(path.join(d, "a", "pglite")))).toBe(0o700);
    const loose = path.join(d, "loose");
    fs.mkdirSync(loose, { mode: 0o777 });
    fs.chmodSync(loose, 0o777);
    expect(mode(privateDir(loose))).toBe(0o700);
  });
});
