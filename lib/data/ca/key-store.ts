// Wires the signing core's key store to the database and the master key (SPEC §2):
// PSS_MASTER_KEY, or — with the embedded database only — a key file created with mode 0600 on first
// start. The master key is checked against a canary stored in the database, so every app process
// sharing a PostgreSQL uses the same key, and a wrong key fails closed at start.
import fs from "node:fs";
import path from "node:path";
import { bytes, db, type Tx } from "../../db/client.ts";
import { writeNewSecretFile } from "../../db/target.ts";
import { env } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { checkCanary, type KeyMaterialRepository, makeCanary, parseMasterKey, SoftwareKeyStore } from "../../pki/keystore.ts";
import type { KeyAlgorithm } from "../../pki/signer.ts";

type Client = Pick<Tx, "keyMaterial">;

const CANARY_KEY = "master_key_canary";

export function keyMaterialRepository(client: Client): KeyMaterialRepository {
  return {
    async put(rec) {
      await client.keyMaterial.create({
        data: { ref: rec.ref, algorithm: rec.algorithm, iv: bytes(rec.iv), ciphertext: bytes(rec.ciphertext), tag: bytes(rec.tag) },
      });
    },
    async get(ref) {
      const row = await client.keyMaterial.findUnique({ where: { ref } });
      if (!row) return null;
      return {
        ref: row.ref,
        algorithm: row.algorithm as KeyAlgorithm,
        iv: Buffer.from(row.iv),
        ciphertext: Buffer.from(row.ciphertext),
        tag: Buffer.from(row.tag),
      };
    },
  };
}

function readMasterKey(): Buffer {
  const e = env();
  if (e.PSS_MASTER_KEY) return parseMasterKey(e.PSS_MASTER_KEY);
  if (!e.embedded)
    throw new AppError(
      "master_key_required",
      "PSS_MASTER_KEY is required when DATABASE_URL is set (every app process must use the same key)",
      500,
    );
  const file = path.join(e.dataDir, "master.key");
  if (!fs.existsSync(file)) {
    fs.mkdirSync(e.dataDir, { recursive: true, mode: 0o700 });
    writeNewSecretFile(file, `${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex")}\n`);
  }
  return parseMasterKey(fs.readFileSync(file, "utf8"));
}

type CanaryClient = Pick<Tx, "systemSetting" | "keyMaterial">;

async function verifyCanary(masterKey: Buffer, client: CanaryClient): Promise<void> {
  const row = await client.systemSetting.findUnique({ where: { key: CANARY_KEY } });
  if (row) return checkCanary(masterKey, row.value);
  // No canary but keys already stored (a partial restore, a hand-edited table): a new canary would bless
  // whatever key this process has. One stored key must decrypt first (it fails closed with master_key_mismatch).
  const stored = await client.keyMaterial.findFirst({ select: { ref: true } });
  if (stored) await new SoftwareKeyStore(masterKey, keyMaterialRepository(client)).signer(stored.ref);
  // ON CONFLICT DO NOTHING, not a caught unique violation: inside a transaction the error would abort it.
  // Whoever wrote first (this process or another) wins; ours is then checked against theirs.
  await client.systemSetting.createMany({ data: [{ key: CANARY_KEY, value: makeCanary(masterKey) }], skipDuplicates: true });
  const written = await client.systemSetting.findUniqueOrThrow({ where: { key: CANARY_KEY } });
  checkCanary(masterKey, written.value);
}

const g = globalThis as unknown as { __pssKeys?: Promise<{ masterKey: Buffer; store: SoftwareKeyStore }> };

async function load(client: CanaryClient) {
  const masterKey = readMasterKey();
  await verifyCanary(masterKey, client);
  return { masterKey, store: new SoftwareKeyStore(masterKey, keyMaterialRepository(db())) };
}

// `client` is the transaction when the first use happens inside one: PGlite has a single connection, so a
// query through db() while a transaction holds it would wait forever.
function keys(client: CanaryClient = db()) {
  g.__pssKeys ??= load(client).catch((err) => {
    g.__pssKeys = undefined;
    throw err;
  });
  return g.__pssKeys;
}

/** The process's key store (decrypted signers cached per CA key). Checks the master key on first use. */
export async function keyStore(): Promise<SoftwareKeyStore> {
  return (await keys()).store;
}

/** A key store that writes new keys inside the caller's transaction (so a failed onboarding leaves no key behind). */
export async function keyStoreIn(tx: Pick<Tx, "keyMaterial" | "systemSetting">): Promise<SoftwareKeyStore> {
  return new SoftwareKeyStore((await keys(tx)).masterKey, keyMaterialRepository(tx));
}
