// Wires the signing core's key store to the database (SPEC §2). CA keys live either on a PKCS#11 token
// (PSS_PKCS11_MODULE: every new key is generated there) or sealed under the master key: PSS_MASTER_KEY, or —
// with the embedded database only — a key file created with mode 0600 on first start. The master key is checked
// against a canary stored in the database, the token against the serial number recorded on first use, so every
// app process sharing a PostgreSQL uses the same keys, and a wrong key or token fails closed at start.
import fs from "node:fs";
import type { KeyMaterial as KeyMaterialRow } from "../../../generated/prisma/client.ts";
import { bytes, db, type Tx } from "../../db/client.ts";
import { writeNewSecretFile } from "../../db/target.ts";
import { env } from "../../env.ts";
import { AppError } from "../../errors.ts";
import { log } from "../../log.ts";
import {
  checkCanary,
  type KeyMaterialRecord,
  type KeyMaterialRepository,
  type KeyStore,
  KeyStoreRouter,
  makeCanary,
  parseMasterKey,
  SoftwareKeyStore,
} from "../../pki/keystore.ts";
import { Pkcs11KeyStore, Pkcs11Token } from "../../pki/pkcs11.ts";
import type { KeyAlgorithm } from "../../pki/signer.ts";
import { keyFiles, settleKeyFile } from "./key-file.ts";

type Client = Pick<Tx, "keyMaterial" | "systemSetting" | "$executeRaw">;

export const CANARY_KEY = "master_key_canary";

/** Serializes sealing new keys (shared) with a master key rotation (exclusive), to the end of the transaction. */
export const MASTER_KEY_LOCK = "master-key";

const lockSealing = (client: Client) => client.$executeRaw`SELECT pg_advisory_xact_lock_shared(hashtextextended(${MASTER_KEY_LOCK}, 0))`;

/**
 * Key-material rows through `client`. With `masterKey`, a software key is written only while that key still
 * matches the canary (under the rotation lock): a process started before a master key rotation cannot seal a new
 * CA key under the old key, which nothing would open afterwards.
 */
export function keyMaterialRepository(client: Client, masterKey?: Buffer): KeyMaterialRepository {
  return {
    async put(rec) {
      if (rec.store === "software" && masterKey) {
        // the lock holds until the end of a transaction: outside one, the check and the write get one of their own
        if (client === db()) return db().$transaction((tx) => keyMaterialRepository(tx, masterKey).put(rec), { timeout: 60_000 });
        await lockSealing(client);
        const canary = await client.systemSetting.findUnique({ where: { key: CANARY_KEY } });
        if (canary) checkCanary(masterKey, canary.value);
      }
      await client.keyMaterial.create({
        data:
          rec.store === "software"
            ? {
                ref: rec.ref,
                algorithm: rec.algorithm,
                store: rec.store,
                iv: bytes(rec.iv),
                ciphertext: bytes(rec.ciphertext),
                tag: bytes(rec.tag),
              }
            : { ref: rec.ref, algorithm: rec.algorithm, store: rec.store, spki: bytes(rec.spki), token: rec.token },
      });
    },
    async get(ref) {
      const row = await client.keyMaterial.findUnique({ where: { ref } });
      return row ? keyRecord(row) : null;
    },
  };
}

/** A KeyMaterial row as the key stores see it (the table's check constraint guarantees each store's columns). */
export function keyRecord(row: KeyMaterialRow): KeyMaterialRecord {
  const { ref } = row;
  const algorithm = row.algorithm as KeyAlgorithm;
  return row.store === "pkcs11"
    ? { ref, algorithm, store: "pkcs11", spki: Buffer.from(row.spki!), token: row.token! }
    : { ref, algorithm, store: "software", iv: Buffer.from(row.iv!), ciphertext: Buffer.from(row.ciphertext!), tag: Buffer.from(row.tag!) };
}

/**
 * The master key, or undefined where none is needed (PKCS#11 configured and no key given, DATABASE_URL only):
 * PSS_MASTER_KEY, or with the embedded database the key file — created on first start, and after an interrupted
 * rotation the one of its files the database's canary names (key-file.ts).
 */
export async function currentMasterKey(client: Client): Promise<Buffer | undefined> {
  const e = env();
  if (e.PSS_MASTER_KEY) return parseMasterKey(e.PSS_MASTER_KEY);
  if (!e.embedded) {
    if (e.PSS_PKCS11_MODULE) return undefined;
    throw new AppError(
      "master_key_required",
      "PSS_MASTER_KEY (or a PKCS#11 key store, PSS_PKCS11_MODULE) is required when DATABASE_URL is set (every app process must use the same key)",
      500,
    );
  }
  const files = keyFiles(e.dataDir);
  if (![files.current, files.next, files.prev].some((f) => fs.existsSync(f))) {
    fs.mkdirSync(e.dataDir, { recursive: true, mode: 0o700 });
    writeNewSecretFile(files.current, `${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex")}\n`);
  }
  const canary = await client.systemSetting.findUnique({ where: { key: CANARY_KEY } });
  return settleKeyFile(files, canary?.value ?? null);
}

type CanaryClient = Client;

export async function verifyCanary(masterKey: Buffer, client: CanaryClient): Promise<void> {
  const row = await client.systemSetting.findUnique({ where: { key: CANARY_KEY } });
  if (row) return checkCanary(masterKey, row.value);
  // No canary but keys already stored (a partial restore, a hand-edited table): a new canary would bless
  // whatever key this process has. One stored key must decrypt first (it fails closed with master_key_mismatch).
  const stored = await client.keyMaterial.findFirst({ where: { store: "software" }, select: { ref: true } });
  if (stored) await new SoftwareKeyStore(masterKey, keyMaterialRepository(client)).signer(stored.ref);
  // ON CONFLICT DO NOTHING, not a caught unique violation: inside a transaction the error would abort it.
  // Whoever wrote first (this process or another) wins; ours is then checked against theirs.
  await client.systemSetting.createMany({ data: [{ key: CANARY_KEY, value: makeCanary(masterKey) }], skipDuplicates: true });
  const written = await client.systemSetting.findUniqueOrThrow({ where: { key: CANARY_KEY } });
  checkCanary(masterKey, written.value);
}

const TOKEN_KEY = "pkcs11_token";

function readPin(): string {
  const e = env();
  if (e.PSS_PKCS11_PIN) return e.PSS_PKCS11_PIN;
  const file = e.PSS_PKCS11_PIN_FILE!;
  let pin: string;
  try {
    pin = fs.readFileSync(file, "utf8").trim();
  } catch {
    throw new AppError("pkcs11_pin_unreadable", `cannot read PSS_PKCS11_PIN_FILE ${file}`, 500);
  }
  if (fs.statSync(file).mode & 0o077) log.warn({ file }, "the PKCS#11 PIN file can be read by others than its owner: chmod 600 it");
  return pin;
}

/** Opens the configured token and checks it is the one this database's PKCS#11 keys were made on. */
async function openToken(client: CanaryClient): Promise<Pkcs11Token> {
  const e = env();
  const token = await Pkcs11Token.open({ module: e.PSS_PKCS11_MODULE!, tokenLabel: e.PSS_PKCS11_TOKEN_LABEL!, pin: readPin() });
  await client.systemSetting.createMany({ data: [{ key: TOKEN_KEY, value: token.serial }], skipDuplicates: true });
  const recorded = await client.systemSetting.findUniqueOrThrow({ where: { key: TOKEN_KEY } });
  if (recorded.value !== token.serial)
    throw new AppError(
      "pkcs11_token_mismatch",
      `the PKCS#11 token labelled ${token.label} has serial ${token.serial}; this database's keys are on ${recorded.value}`,
      500,
    );
  return token;
}

type Keys = { masterKey?: Buffer; token?: Pkcs11Token; store: KeyStoreRouter };

const g = globalThis as unknown as { __pssKeys?: Promise<Keys> };

function router(client: Client, masterKey: Buffer | undefined, token: Pkcs11Token | undefined): KeyStoreRouter {
  const repo = keyMaterialRepository(client, masterKey);
  return new KeyStoreRouter(
    repo,
    {
      ...(masterKey ? { software: new SoftwareKeyStore(masterKey, repo) } : {}),
      ...(token ? { pkcs11: new Pkcs11KeyStore(token, repo) } : {}),
    },
    token ? "pkcs11" : "software",
  );
}

async function load(client: CanaryClient): Promise<Keys> {
  const key = await currentMasterKey(client);
  if (key) await verifyCanary(key, client);
  const token = env().PSS_PKCS11_MODULE ? await openToken(client) : undefined;
  // checked at start, not at the first signature: every stored key must be reachable by this process
  const stores = await client.keyMaterial.groupBy({ by: ["store"], _count: true });
  if (!key && stores.some((g) => g.store === "software"))
    throw new AppError("master_key_required", "CA keys sealed under a master key are stored: set PSS_MASTER_KEY as well as the token", 500);
  if (!token && stores.some((g) => g.store === "pkcs11"))
    throw new AppError("pkcs11_not_configured", "CA keys on a PKCS#11 token are stored: set PSS_PKCS11_MODULE and the token settings", 500);
  return { masterKey: key, token, store: router(db(), key, token) };
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

/** This process's PKCS#11 token, or undefined without one configured. */
export async function configuredToken(): Promise<Pkcs11Token | undefined> {
  return (await keys()).token;
}

/** Forget this process's keys (after a master key rotation: signers are loaded again under the new key). */
export function forgetKeys(): void {
  g.__pssKeys = undefined;
}

/** The process's key store (signers cached per CA key). Checks the master key and the token on first use. */
export async function keyStore(): Promise<KeyStore & { generatesIn: string }> {
  return (await keys()).store;
}

/** A key store that writes new keys inside the caller's transaction (so a failed onboarding leaves no key row behind). */
export async function keyStoreIn(tx: Client): Promise<KeyStore> {
  // before the transaction writes anything: a rotation holding the lock exclusively, waiting on a row this
  // transaction locked, would deadlock with it
  await lockSealing(tx);
  const { masterKey, token } = await keys(tx);
  return router(tx, masterKey, token);
}
