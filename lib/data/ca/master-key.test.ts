// Master key rotation against a real database (PGlite: the canary is per database, and on the shared PostgreSQL
// every other test file uses the fixed test key): all keys re-sealed or none, the old key refused afterwards, a
// process still holding it unable to seal new keys, and the embedded key file replaced or an interrupted
// rotation finished at the next start.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dbLabel, testDb } from "../../../tests/db.ts";
import { env, overrideEnv } from "../../env.ts";
import { publishCrl } from "../revocation/crl.ts";
import { ensureHierarchy } from "./hierarchy.ts";
import { forgetKeys, keyStore } from "./key-store.ts";
import { rotateMasterKey } from "./master-key.ts";

const db = testDb();
const system = { type: "system", id: "test" } as const;
const original = env();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pss-master-key-"));
afterAll(() => {
  overrideEnv(original);
  forgetKeys();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const useKey = (hex: string | undefined, more: Partial<typeof original> = {}) => {
  overrideEnv({ ...original, PSS_MASTER_KEY: hex, ...more });
  forgetKeys();
};

const anyCa = async () => (await db.certificateAuthority.findFirstOrThrow({ where: { kind: "ROOT" } })).id;

describe.runIf(dbLabel() === "pglite")("master key rotation", () => {
  it("re-seals every software key under the new key in one go; the old key is refused after", async () => {
    await ensureHierarchy(system);
    const old = original.PSS_MASTER_KEY!;
    const next = randomBytes(32).toString("hex");
    const before = await db.keyMaterial.findMany({ where: { store: "software" }, orderBy: { ref: "asc" } });
    useKey(old);
    const r = await rotateMasterKey({ newKey: next, actor: system });
    expect(r).toEqual({ resealed: before.length, keyFile: null });
    const after = await db.keyMaterial.findMany({ where: { store: "software" }, orderBy: { ref: "asc" } });
    after.forEach((row, i) => expect(Buffer.from(row.ciphertext!).equals(Buffer.from(before[i].ciphertext!))).toBe(false));
    expect(await db.auditEvent.count({ where: { action: "master_key.rotate" } })).toBe(1);

    useKey(old);
    await expect(keyStore()).rejects.toMatchObject({ code: "master_key_mismatch" });
    useKey(next);
    await expect(publishCrl(await anyCa())).resolves.toBeDefined();
    // and back, so the rest of this file runs on the original key
    await rotateMasterKey({ newKey: old, actor: system });
    useKey(old);
  });

  it("a process that still holds the old key cannot seal a new CA key under it", async () => {
    useKey(original.PSS_MASTER_KEY);
    const stale = await keyStore(); // loaded before the rotation, as another running process would be
    const next = randomBytes(32).toString("hex");
    await rotateMasterKey({ newKey: next, actor: system });
    await expect(stale.generate("ca/stale-process", "ECDSA-P256")).rejects.toMatchObject({ code: "master_key_mismatch" });
    expect(await db.keyMaterial.count({ where: { ref: "ca/stale-process" } })).toBe(0);
    useKey(next);
    await rotateMasterKey({ newKey: original.PSS_MASTER_KEY!, actor: system });
    useKey(original.PSS_MASTER_KEY);
  });

  it("refuses the same key, a malformed key, and no new key when the key is not a file of ours", async () => {
    useKey(original.PSS_MASTER_KEY);
    await expect(rotateMasterKey({ newKey: original.PSS_MASTER_KEY!, actor: system })).rejects.toMatchObject({
      code: "master_key_unchanged",
    });
    await expect(rotateMasterKey({ newKey: "not a key", actor: system })).rejects.toMatchObject({ code: "master_key_invalid" });
    await expect(rotateMasterKey({ actor: system })).rejects.toMatchObject({ code: "usage" });
  });

  it("with the embedded key file: a new key replaces the file; an interrupted rotation is finished, or undone, at start", async () => {
    const dataDir = path.join(scratch, "data");
    fs.mkdirSync(dataDir, { recursive: true });
    const keyFile = path.join(dataDir, "master.key");
    fs.writeFileSync(keyFile, `${original.PSS_MASTER_KEY}\n`, { mode: 0o600 });
    useKey(undefined, { dataDir });
    const r = await rotateMasterKey({ actor: system });
    expect(r.keyFile).toBe(keyFile);
    const rotated = fs.readFileSync(keyFile, "utf8").trim();
    expect(rotated).not.toBe(original.PSS_MASTER_KEY);
    expect(fs.existsSync(path.join(dataDir, "master.key.next"))).toBe(false);
    forgetKeys();
    await expect(publishCrl(await anyCa())).resolves.toBeDefined();

    // stopped after the transaction, before the rename: the canary names the next key, which is promoted
    const next = randomBytes(32).toString("hex");
    await rotateMasterKey({ newKey: next, actor: system });
    fs.writeFileSync(keyFile, `${rotated}\n`); // as if the rename had not happened
    fs.writeFileSync(path.join(dataDir, "master.key.next"), `${next}\n`);
    forgetKeys();
    await expect(publishCrl(await anyCa())).resolves.toBeDefined();
    expect(fs.readFileSync(keyFile, "utf8").trim()).toBe(next);

    // stopped before the transaction: the leftover next key names nothing, and is removed
    fs.writeFileSync(path.join(dataDir, "master.key.next"), `${randomBytes(32).toString("hex")}\n`);
    forgetKeys();
    await expect(publishCrl(await anyCa())).resolves.toBeDefined();
    expect(fs.existsSync(path.join(dataDir, "master.key.next"))).toBe(false);

    // back to the original key for the database
    await rotateMasterKey({ newKey: original.PSS_MASTER_KEY!, actor: system });
    useKey(original.PSS_MASTER_KEY);
    await expect(keyStore()).resolves.toBeDefined();
  });
});
