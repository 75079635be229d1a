// Master key rotation: every CA key sealed under the master key is opened and sealed again under a new one, and
// the canary replaced, in one transaction — all or nothing. Sealing a new key takes the same lock (shared) and
// checks the canary first, so a process still holding the old key fails closed instead of writing a key nobody
// could open; every process must restart with the new key (it refuses to start with the old one).
//
// The embedded key file: the new key is written to master.key.next (0600, synced) before the transaction and
// renamed over master.key after it; a rotation stopped in between is finished or undone at the next start
// (key-store.ts finishRotation), by which of the two keys the canary names.
import fs from "node:fs";
import path from "node:path";
import { bytes, db } from "../../db/client.ts";
import { dbTarget, writeNewSecretFile } from "../../db/target.ts";
import { env } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { makeCanary, parseMasterKey, resealRecord } from "../../pki/keystore.ts";
import { type Actor, audit } from "../audit/record.ts";
import { CANARY_KEY, forgetKeys, keyRecord, MASTER_KEY_LOCK, nextKeyFile, readMasterKey, verifyCanary } from "./key-store.ts";

export type MasterKeyRotation = {
  resealed: number;
  /** the key file replaced (embedded database, key from the file), or null: set PSS_MASTER_KEY to the new key */
  keyFile: string | null;
};

/**
 * Rotate the master key. `newKey` (64 hex characters or base64) is required when the key comes from
 * PSS_MASTER_KEY; with the embedded key file a new random key is made when it is omitted.
 */
export async function rotateMasterKey(input: { newKey?: string; actor: Actor }): Promise<MasterKeyRotation> {
  const e = env();
  const current = readMasterKey();
  if (!current) throw new AppError("master_key_required", "No master key is configured: there is nothing to rotate.", 409);
  await verifyCanary(current, db());
  const fromFile = e.embedded && !e.PSS_MASTER_KEY;
  if (fromFile && dbTarget(e).kind === "pglite-socket")
    throw new AppError("master_key_in_use", "The product is running and holds the current key in memory: stop it, then rotate.", 409);
  if (!input.newKey && !fromFile)
    throw new AppError("usage", "--new-key-file is required when the master key comes from PSS_MASTER_KEY", 2);
  const next = input.newKey ? parseMasterKey(input.newKey) : Buffer.from(crypto.getRandomValues(new Uint8Array(32)));
  if (next.equals(current)) throw new AppError("master_key_unchanged", "The new master key is the current one.", 400);

  const file = path.join(e.dataDir, "master.key");
  if (fromFile) {
    fs.rmSync(nextKeyFile(), { force: true });
    writeNewSecretFile(nextKeyFile(), `${next.toString("hex")}\n`);
  }
  let resealed: number;
  try {
    resealed = await db().$transaction(
      async (tx) => {
        // exclusive: no key is sealed under the old key while this runs, and none after (the canary changes)
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${MASTER_KEY_LOCK}, 0))`;
        await verifyCanary(current, tx);
        const rows = await tx.keyMaterial.findMany({ where: { store: "software" } });
        for (const row of rows) {
          const rec = keyRecord(row);
          if (rec.store !== "software") continue;
          const sealed = resealRecord(rec, current, next);
          await tx.keyMaterial.update({
            where: { ref: row.ref },
            data: { iv: bytes(sealed.iv), ciphertext: bytes(sealed.ciphertext), tag: bytes(sealed.tag) },
          });
        }
        await tx.systemSetting.update({ where: { key: CANARY_KEY }, data: { value: makeCanary(next) } });
        await audit(tx, input.actor, { action: "master_key.rotate", target: "master-key", details: { resealed: rows.length } });
        return rows.length;
      },
      { timeout: 120_000 },
    );
  } catch (err) {
    if (fromFile) fs.rmSync(nextKeyFile(), { force: true });
    throw err;
  }
  if (fromFile) fs.renameSync(nextKeyFile(), file);
  next.fill(0);
  forgetKeys();
  return { resealed, keyFile: fromFile ? file : null };
}
