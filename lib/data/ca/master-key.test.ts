// Master key rotation against a real database (on PostgreSQL one of this file's own: the other test files share
// the fixed test key's canary): all keys re-sealed or none, the old key refused afterwards, a process still
// holding it unable to seal new keys — also while the rotation runs, on another connection — and the embedded key
// file replaced, or an interrupted rotation finished, at the next start.
import { spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dbLabel, testDb } from "../../../tests/db.ts";
import { env, overrideEnv } from "../../env.ts";
import { makeCanary } from "../../pki/keystore.ts";
import { publishCrl } from "../revocation/crl.ts";
import { ensureHierarchy } from "./hierarchy.ts";
import { CANARY_KEY, forgetKeys, keyStore, MASTER_KEY_LOCK } from "./key-store.ts";
import { rotateMasterKey } from "./master-key.ts";

// a database of this file's own on PostgreSQL too: the canary changes here
const db = testDb({ own: true });
const system = { type: "system", id: "test" } as const;
const original = env();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "pss-master-key-"));
afterAll(() => {
  overrideEnv(original);
  forgetKeys();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const switchKey = (hex: string | undefined, more: Partial<typeof original> = {}) => {
  overrideEnv({ ...original, PSS_MASTER_KEY: hex, ...more });
  forgetKeys();
};

const files = (dataDir: string) => ({
  current: path.join(dataDir, "master.key"),
  next: path.join(dataDir, "master.key.next"),
  prev: path.join(dataDir, "master.key.prev"),
});
const read = (file: string) => fs.readFileSync(file, "utf8").trim();

/** Re-seal the database under the original test key again, whatever the key files say now. */
async function backToOriginal(dataDir: string) {
  switchKey(undefined, { dataDir });
  const now = read(files(dataDir).current);
  if (now !== original.PSS_MASTER_KEY) {
    switchKey(now);
    await rotateMasterKey({ newKey: original.PSS_MASTER_KEY!, actor: system });
  }
  switchKey(original.PSS_MASTER_KEY);
}

const anyCa = async () => (await db.certificateAuthority.findFirstOrThrow({ where: { kind: "ROOT" } })).id;

describe(`master key rotation (${dbLabel()})`, () => {
  it("re-seals every software key under the new key in one go; the old key is refused after", async () => {
    await ensureHierarchy(system);
    const old = original.PSS_MASTER_KEY!;
    const next = randomBytes(32).toString("hex");
    const before = await db.keyMaterial.findMany({ where: { store: "software" }, orderBy: { ref: "asc" } });
    switchKey(old);
    const r = await rotateMasterKey({ newKey: next, actor: system });
    expect(r).toEqual({ resealed: before.length, keyFile: null });
    const after = await db.keyMaterial.findMany({ where: { store: "software" }, orderBy: { ref: "asc" } });
    for (const [i, row] of after.entries()) expect(Buffer.from(row.ciphertext!).equals(Buffer.from(before[i].ciphertext!))).toBe(false);
    expect(await db.auditEvent.count({ where: { action: "master_key.rotate" } })).toBe(1);

    switchKey(old);
    await expect(keyStore()).rejects.toMatchObject({ code: "master_key_mismatch" });
    switchKey(next);
    await expect(publishCrl(await anyCa())).resolves.toBeDefined();
    // and back, so the rest of this file runs on the original key
    await rotateMasterKey({ newKey: old, actor: system });
    switchKey(old);
  });

  it("a process that still holds the old key cannot seal a new CA key under it", async () => {
    switchKey(original.PSS_MASTER_KEY);
    const stale = await keyStore(); // loaded before the rotation, as another running process would be
    const next = randomBytes(32).toString("hex");
    await rotateMasterKey({ newKey: next, actor: system });
    await expect(stale.generate("ca/stale-process", "ECDSA-P256")).rejects.toMatchObject({ code: "master_key_mismatch" });
    expect(await db.keyMaterial.count({ where: { ref: "ca/stale-process" } })).toBe(0);
    switchKey(next);
    await rotateMasterKey({ newKey: original.PSS_MASTER_KEY!, actor: system });
    switchKey(original.PSS_MASTER_KEY);
  });

  it("a key sealed while a rotation holds the lock waits for it, then fails closed under the new canary", async () => {
    switchKey(original.PSS_MASTER_KEY);
    const stale = await keyStore();
    const canary = await db.systemSetting.findUniqueOrThrow({ where: { key: CANARY_KEY } });
    let release = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    let locked = () => {};
    const isLocked = new Promise<void>((r) => {
      locked = r;
    });
    // what rotateMasterKey's transaction does first, held open
    const rotation = db.$transaction(
      async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${MASTER_KEY_LOCK}, 0))`;
        await tx.systemSetting.update({ where: { key: CANARY_KEY }, data: { value: makeCanary(randomBytes(32)) } });
        locked();
        await held;
      },
      { timeout: 30_000 },
    );
    try {
      await isLocked;
      let settled = false;
      const sealing = stale.generate("ca/during-rotation", "ECDSA-P256").finally(() => {
        settled = true;
      });
      sealing.catch(() => {});
      await new Promise((r) => setTimeout(r, 300));
      expect(settled).toBe(false); // waiting on the lock, not writing under the old key
      release();
      await rotation;
      await expect(sealing).rejects.toMatchObject({ code: "master_key_mismatch" });
      expect(await db.keyMaterial.count({ where: { ref: "ca/during-rotation" } })).toBe(0);
    } finally {
      release();
      await rotation.catch(() => {});
      await db.systemSetting.update({ where: { key: CANARY_KEY }, data: { value: canary.value } });
      forgetKeys();
    }
  });

  it("refuses the same key, a malformed key, and no new key when the key is not a file of ours", async () => {
    switchKey(original.PSS_MASTER_KEY);
    await expect(rotateMasterKey({ newKey: original.PSS_MASTER_KEY!, actor: system })).rejects.toMatchObject({
      code: "master_key_unchanged",
    });
    await expect(rotateMasterKey({ newKey: "not a key", actor: system })).rejects.toMatchObject({ code: "master_key_invalid" });
    await expect(rotateMasterKey({ actor: system })).rejects.toMatchObject({ code: "usage" });
  });

  it("with the embedded key file: the new key replaces the file (0600), the old one kept until the next start", async () => {
    const dataDir = path.join(scratch, "file");
    fs.mkdirSync(dataDir, { recursive: true });
    const f = files(dataDir);
    fs.writeFileSync(f.current, `${original.PSS_MASTER_KEY}\n`, { mode: 0o600 });
    switchKey(undefined, { dataDir });
    const r = await rotateMasterKey({ actor: system });
    expect(r.keyFile).toBe(f.current);
    const rotated = read(f.current);
    expect(rotated).not.toBe(original.PSS_MASTER_KEY);
    expect(fs.statSync(f.current).mode & 0o777).toBe(0o600);
    expect(read(f.prev)).toBe(original.PSS_MASTER_KEY);
    expect(fs.existsSync(f.next)).toBe(false);
    // the next start: the canary names master.key, so the previous key goes
    forgetKeys();
    await expect(publishCrl(await anyCa())).resolves.toBeDefined();
    expect(fs.existsSync(f.prev)).toBe(false);
    await backToOriginal(dataDir);
  });

  it.each<
    [
      string,
      (k: { old: string; next: string }) => { current?: string; next?: string; prev?: string; canary: "old" | "next" },
      "old" | "next",
    ]
  >([
    // stopped after writing master.key.next, before the transaction: the leftover names nothing
    ["before the transaction", (k) => ({ current: k.old, next: k.next, canary: "old" }), "old"],
    // committed, then stopped before the renames
    ["after the commit, before the renames", (k) => ({ current: k.old, next: k.next, canary: "next" }), "next"],
    // between the two renames: no master.key at all
    ["between the renames", (k) => ({ prev: k.old, next: k.next, canary: "next" }), "next"],
    // renamed, but the database's commit never reached the disk (PGlite does not sync): the old key comes back
    ["renamed, but the commit lost", (k) => ({ current: k.next, prev: k.old, canary: "old" }), "old"],
  ])("an interrupted rotation, %s: the next start keeps the key the canary names", async (_name, layout, expected) => {
    const dataDir = path.join(scratch, `crash-${Math.random().toString(36).slice(2)}`);
    fs.mkdirSync(dataDir, { recursive: true });
    const f = files(dataDir);
    const k = { old: original.PSS_MASTER_KEY!, next: randomBytes(32).toString("hex") };
    const l = layout(k);
    if (l.canary === "next") {
      switchKey(k.old);
      await rotateMasterKey({ newKey: k.next, actor: system });
    }
    for (const which of ["current", "next", "prev"] as const) if (l[which]) fs.writeFileSync(f[which], `${l[which]}\n`, { mode: 0o600 });
    switchKey(undefined, { dataDir });
    await expect(publishCrl(await anyCa())).resolves.toBeDefined();
    expect(read(f.current)).toBe(k[expected]);
    expect([fs.existsSync(f.next), fs.existsSync(f.prev)]).toEqual([false, false]);
    await backToOriginal(dataDir);
  });

  it("a copy of a key left by a process stopped mid-write is removed at the next start; a running one's is not", async () => {
    const dataDir = path.join(scratch, "tmp-leftover");
    fs.mkdirSync(dataDir, { recursive: true });
    const f = files(dataDir);
    fs.writeFileSync(f.current, `${original.PSS_MASTER_KEY}\n`, { mode: 0o600 });
    // the PID of a process that has ended
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
    const stale = [`master.key.next.${dead}.${randomUUID()}.tmp`, `master.key.${dead}.${randomUUID()}.tmp`];
    const live = `master.key.next.${process.pid}.${randomUUID()}.tmp`;
    const unrelated = `other.${dead}.${randomUUID()}.tmp`;
    for (const name of [...stale, live, unrelated])
      fs.writeFileSync(path.join(dataDir, name), `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
    switchKey(undefined, { dataDir });
    await expect(publishCrl(await anyCa())).resolves.toBeDefined();
    expect(fs.readdirSync(dataDir).sort()).toEqual(["master.key", live, unrelated].sort());
    switchKey(original.PSS_MASTER_KEY);
  });

  it("no file the canary names: fails closed and removes nothing", async () => {
    const dataDir = path.join(scratch, "none");
    fs.mkdirSync(dataDir, { recursive: true });
    const f = files(dataDir);
    const strays = [randomBytes(32).toString("hex"), randomBytes(32).toString("hex")];
    fs.writeFileSync(f.current, `${strays[0]}\n`, { mode: 0o600 });
    fs.writeFileSync(f.next, `${strays[1]}\n`, { mode: 0o600 });
    switchKey(undefined, { dataDir });
    await expect(keyStore()).rejects.toMatchObject({ code: "master_key_mismatch" });
    expect([read(f.current), read(f.next)]).toEqual(strays);
  });

  it("a key that does not open stops the whole rotation: no row changed, the key file untouched", async () => {
    const dataDir = path.join(scratch, "abort");
    fs.mkdirSync(dataDir, { recursive: true });
    const f = files(dataDir);
    fs.writeFileSync(f.current, `${original.PSS_MASTER_KEY}\n`, { mode: 0o600 });
    switchKey(undefined, { dataDir });
    const victim = await db.keyMaterial.findFirstOrThrow({ where: { store: "software" } });
    const damaged = Buffer.from(victim.ciphertext!);
    damaged[0] ^= 1;
    await db.keyMaterial.update({ where: { ref: victim.ref }, data: { ciphertext: damaged } });
    const before = await db.keyMaterial.findMany({ where: { store: "software" }, orderBy: { ref: "asc" } });
    try {
      await expect(rotateMasterKey({ actor: system })).rejects.toMatchObject({ code: "master_key_mismatch" });
      const after = await db.keyMaterial.findMany({ where: { store: "software" }, orderBy: { ref: "asc" } });
      expect(after.map((r) => Buffer.from(r.ciphertext!).toString("hex"))).toEqual(
        before.map((r) => Buffer.from(r.ciphertext!).toString("hex")),
      );
      expect(read(f.current)).toBe(original.PSS_MASTER_KEY);
      expect(fs.existsSync(f.next)).toBe(false);
    } finally {
      damaged[0] ^= 1;
      await db.keyMaterial.update({ where: { ref: victim.ref }, data: { ciphertext: damaged } });
    }
  });
});
