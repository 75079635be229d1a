// First start on a fresh database: one staff account, also when several app processes start at once (a first
// rollout of N replicas must not crash-loop N−1 of them on a duplicate address).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { dbLabel, testDb } from "../../../tests/db.ts";
import { overrideEnv } from "../../env.ts";
import { ensureInitialStaff, handOverInitialPassword } from "./ensure-initial-staff.ts";

// a fresh database of its own on PostgreSQL too: no staff account yet
const db = testDb({ own: true });

describe(`the first staff account (${dbLabel()})`, () => {
  it("starts racing on a fresh database: exactly one account, one generated password, no failure", async () => {
    overrideEnv({ PSS_ADMIN_EMAIL: "first-admin@pss.test", PSS_ADMIN_PASSWORD: undefined });
    expect(await db.user.count({ where: { role: "STAFF" } })).toBe(0);
    const results = await Promise.all(Array.from({ length: 4 }, () => ensureInitialStaff()));
    const created = results.filter((r) => r !== null);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ email: "first-admin@pss.test", generatedPassword: expect.any(String) });
    expect(await db.user.findMany({ where: { role: "STAFF" }, select: { email: true } })).toEqual([{ email: "first-admin@pss.test" }]);
    // a later start leaves it alone
    expect(await ensureInitialStaff()).toBeNull();
  });
});

describe("the generated first password", () => {
  const staff = { email: "first-admin@pss.test", generatedPassword: "Generated-Pass-1234567" };
  const capture = (isTTY: boolean) => {
    let text = "";
    return { isTTY, write: (s: string) => (text += s), text: () => text };
  };

  it("on a terminal: printed once, no file", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-first-"));
    try {
      const out = capture(true);
      expect(handOverInitialPassword(staff, dir, out)).toEqual({ printed: true });
      expect(out.text()).toContain(staff.generatedPassword);
      expect(fs.readdirSync(dir)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("when standard output is a log: written to a file only this user can read, and only the file is named", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pss-first-"));
    try {
      const out = capture(false);
      const r = handOverInitialPassword(staff, path.join(dir, "data"), out);
      expect(r).toEqual({ file: path.join(dir, "data", "initial-staff-password") });
      expect(out.text()).not.toContain(staff.generatedPassword);
      expect(out.text()).toContain("initial-staff-password");
      const file = (r as { file: string }).file;
      expect(fs.readFileSync(file, "utf8")).toBe(`${staff.email}\n${staff.generatedPassword}\n`);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
