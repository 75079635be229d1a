// The hourly checks against a real database: a due CA whose rotation fails is reported and logged, and stops
// neither the other due CAs' rotations nor the CRL reissue.
import { afterEach, describe, expect, it } from "vitest";
import { caRotate } from "../cli/commands/ca.ts";
import { PartialResult } from "../cli/io.ts";
import { activeCa, ensureHierarchy, rotateDueCas } from "../lib/data/ca/hierarchy.ts";
import { createCustomer } from "../lib/data/customers/create-customer.ts";
import { CRL_REISSUE_AFTER_MS, publishCrl } from "../lib/data/revocation/crl.ts";
import { env, overrideEnv } from "../lib/env.ts";
import { dbLabel, testDb, unique } from "../tests/db.ts";
import { runScheduledChecks } from "./scheduler.ts";

// its own database on PostgreSQL too: the scheduled checks rotate and reissue for every CA in the database,
// which must not reach the CAs other test files leave due
const db = testDb({ own: true });
const system = { type: "system", id: "test" } as const;
const DAY = 86_400_000;
const savedPrefix = env().PSS_SUBJECT_PREFIX;
afterEach(() => overrideEnv({ PSS_SUBJECT_PREFIX: savedPrefix }));

/** A customer whose TLS issuing CA is due for rotation: 100 days left (its leaves live a year), dated on the row. */
async function customerDueForRotation(name: string) {
  const c = await createCustomer({ name, adminEmail: `${unique()}@globex.test`, adminPassword: "a-long-password-1" }, system);
  const { ca } = await activeCa({ kind: "CUSTOMER_TLS_ISSUING", customerId: c.customer.id });
  await db.certificateAuthority.update({ where: { id: ca.id }, data: { notAfter: new Date(Date.now() + 100 * DAY) } });
  return ca;
}

const generations = (scope: string) =>
  db.certificateAuthority.findMany({
    where: { scope },
    orderBy: { generation: "asc" },
    select: { id: true, generation: true, status: true },
  });

describe(`scheduled CA and CRL checks (${dbLabel()})`, () => {
  it("one due CA that cannot rotate is reported; another due at the same time rotates, and stale CRLs are reissued", async () => {
    await ensureHierarchy(system);
    // 34 characters: within every subject under the "PSS" prefix, as onboarding checked ...
    const long = await customerDueForRotation(unique("Globex Long").replace(/-/g, " ").padEnd(34, "x"));
    const short = await customerDueForRotation(unique("Hooli").replace(/-/g, " "));
    // ... but not under a 16-character one: "PSS-Staging-Env1 <34> TLS Issuing CA G2" is over 64 characters
    overrideEnv({ PSS_SUBJECT_PREFIX: "PSS-Staging-Env1" });

    const due = await rotateDueCas(system);
    expect(due.failed.filter((f) => f.id === long.id)).toEqual([
      { id: long.id, subject: long.subject, reason: "less than its longest child validity + 30 days left", code: "subject_too_long" },
    ]);
    expect(await generations(long.scope)).toEqual([{ id: long.id, generation: 1, status: "ACTIVE" }]);
    const [, next] = await generations(short.scope);
    expect(next).toMatchObject({ generation: 2, status: "ACTIVE" });
    expect(due.rotated.find((r) => r.id === next.id)?.subject).toMatch(/CN=PSS-Staging-Env1 .* TLS Issuing CA G2$/);
    expect(due.failed.map((f) => f.id)).not.toContain(short.id);

    // the scheduled run with that CA still failing: the CRL reissue runs all the same
    const stale = await publishCrl(long.id, new Date(Date.now() - CRL_REISSUE_AFTER_MS - 60_000));
    await runScheduledChecks();
    const latest = await db.crl.findFirstOrThrow({ where: { caId: long.id }, orderBy: { number: "desc" } });
    expect(latest.number).toBeGreaterThan(stale.number);
    expect(Date.now() - latest.thisUpdate.getTime()).toBeLessThan(CRL_REISSUE_AFTER_MS);
    expect(await generations(long.scope)).toEqual([{ id: long.id, generation: 1, status: "ACTIVE" }]);
  });

  it("pss ca rotate --due answers the same, with exit status 1 while a due CA fails, 0 once none does", async () => {
    await ensureHierarchy(system);
    const long = await customerDueForRotation(unique("Initech Long").replace(/-/g, " ").padEnd(34, "x"));
    overrideEnv({ PSS_SUBJECT_PREFIX: "PSS-Staging-Env1" });
    const partial = await caRotate.run({ args: ["--due"], json: true });
    expect(partial).toBeInstanceOf(PartialResult);
    expect(partial).toMatchObject({
      exit: 1,
      value: { failed: expect.arrayContaining([expect.objectContaining({ id: long.id, code: "subject_too_long" })]) },
    });
    // the prefix back: every due CA rotates, and the answer is a plain one
    overrideEnv({ PSS_SUBJECT_PREFIX: savedPrefix });
    const done = await caRotate.run({ args: ["--due"], json: true });
    expect(done).not.toBeInstanceOf(PartialResult);
    expect(done).toMatchObject({ failed: [] });
    expect((await generations(long.scope)).map((g) => g.status)).toEqual(["RETIRED", "ACTIVE"]);
  });
});
