// Master key rotation: every CA key sealed under the master key is opened and sealed again under a new one, and
// the canary replaced, in one transaction — all or nothing. Sealing a new key takes the same lock (shared) and
// checks the canary first, so a process still holding the old key fails closed instead of writing a key nobody
// could open; every process must restart with the new key (it refuses to start with the old one).
//
// The embedded key file: the new key is written to master.key.next (synced) before the transaction, and after it
// the old key becomes master.key.prev and the new one master.key; every start keeps the file the canary names
// (key-file.ts), so a stop at any point loses neither key.
import fs from "node:fs";
import { bytes, db } from "../../db/client.ts";
import { dbTarget } from "../../db/target.ts";
import { env } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { checkCanary, makeCanary, parseMasterKey, resealRecord } from "../../pki/keystore.ts";
import { type Actor, audit } from "../audit/record.ts";
import { keyFiles, promoteNextKey, writeKeyFile } from "./key-file.ts";
import { CANARY_KEY, currentMasterKey, forgetKeys, keyRecord, MASTER_KEY_LOCK, verifyCanary } from "./key-store.ts";

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
  // a running product holds the current key in memory and would go on using it
  if (e.embedded && dbTarget(e).kind === "pglite-socket")
    throw new AppError("master_key_in_use", "The product is running and holds the current key in memory: stop it, then rotate.", 409);
  const current = await currentMasterKey(db());
  if (!current) throw new AppError("master_key_required", "No master key is configured: there is nothing to rotate.", 409);
  await verifyCanary(current, db());
  const fromFile = e.embedded && !e.PSS_MASTER_KEY;
  if (!input.newKey && !fromFile)
    throw new AppError("usage", "--new-key-file is required when the master key comes from PSS_MASTER_KEY", 2);
  const next = input.newKey ? parseMasterKey(input.newKey) : Buffer.from(crypto.getRandomValues(new Uint8Array(32)));
  if (next.equals(current)) throw new AppError("master_key_unchanged", "The new master key is the current one.", 400);

  const files = keyFiles(e.dataDir);
  if (fromFile) writeKeyFile(files.next, next);
  let resealed = 0;
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
    // the commit's outcome may be unknown (the connection lost at COMMIT): the canary says which key is in force
    const committed = await canaryNames(next).catch(() => null);
    if (committed === false && fromFile) fs.rmSync(files.next, { force: true });
    if (committed !== true) throw err;
  } finally {
    current.fill(0);
  }
  if (fromFile) promoteNextKey(files);
  next.fill(0);
  forgetKeys();
  return { resealed, keyFile: fromFile ? files.current : null };
}

async function canaryNames(key: Buffer): Promise<boolean> {
  const canary = await db().systemSetting.findUnique({ where: { key: CANARY_KEY } });
  try {
    if (!canary) return false;
    checkCanary(key, canary.value);
    return true;
  } catch {
    return false;
  }
}
