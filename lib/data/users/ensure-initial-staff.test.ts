// First start on a fresh database: one staff account, also when several app processes start at once (a first
// rollout of N replicas must not crash-loop N−1 of them on a duplicate address).
import { describe, expect, it } from "vitest";
import { dbLabel, testDb } from "../../../tests/db.ts";
import { overrideEnv } from "../../env.ts";
import { ensureInitialStaff } from "./ensure-initial-staff.ts";

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
