// The master key check at first use (SPEC §2), against a real database.
import { describe, expect, it } from "vitest";
import { dbLabel, testDb } from "../../../tests/db.ts";
import { env, overrideEnv } from "../../env.ts";
import { ensureHierarchy } from "./hierarchy.ts";
import { keyStore } from "./key-store.ts";

const db = testDb();
const system = { type: "system", id: "test" } as const;
const forgetKeys = () => {
  (globalThis as { __pssKeys?: unknown }).__pssKeys = undefined;
};

describe(`master key canary (${dbLabel()})`, () => {
  // PGlite only: it removes the canary every test file shares on PostgreSQL
  it.runIf(dbLabel() === "pglite")(
    "with the canary gone but keys stored, another master key fails closed instead of writing a new canary",
    async () => {
      await ensureHierarchy(system);
      const canary = await db.systemSetting.findUniqueOrThrow({ where: { key: "master_key_canary" } });
      const ours = env().PSS_MASTER_KEY;
      await db.systemSetting.delete({ where: { key: "master_key_canary" } });
      try {
        overrideEnv({ PSS_MASTER_KEY: "ff".repeat(32) });
        forgetKeys();
        await expect(keyStore()).rejects.toMatchObject({ code: "master_key_mismatch" });
        expect(await db.systemSetting.count({ where: { key: "master_key_canary" } })).toBe(0);
        // the right key decrypts a stored key, and writes the canary again
        overrideEnv({ PSS_MASTER_KEY: ours });
        forgetKeys();
        await expect(keyStore()).resolves.toBeDefined();
        expect((await db.systemSetting.findUniqueOrThrow({ where: { key: "master_key_canary" } })).value).not.toBe("");
      } finally {
        overrideEnv({ PSS_MASTER_KEY: ours });
        forgetKeys();
        await db.systemSetting.upsert({ where: { key: "master_key_canary" }, create: canary, update: {} });
      }
    },
  );
});
