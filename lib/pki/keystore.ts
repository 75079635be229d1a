// The software key store (§2): CA private keys as PKCS#8 DER, encrypted at rest with AES-256-GCM under the
// master key, the key ref as additional authenticated data (so a ciphertext cannot be swapped onto another
// CA's row). Persistence is injected; the database implementation lives outside lib/pki.
//
// Error codes: master_key_invalid, master_key_mismatch (500), key_exists (409), key_not_found (404),
// key_algorithm_unsupported. Messages never contain key material.
import { createCipheriv, createDecipheriv, createPrivateKey, type KeyObject, randomBytes } from "node:crypto";
import { PkiError } from "./errors.ts";
import { type NewKeyType, newPrivateKey } from "./keygen.ts";
import { type KeyAlgorithm, keyObjectSigner, type Signer } from "./signer.ts";

export interface KeyStore {
  /** Creates a new key under `ref` (refused if the ref already holds one) and returns its signer. */
  generate(ref: string, algorithm: KeyAlgorithm): Promise<Signer>;
  /** The signer of an existing key. */
  signer(ref: string): Promise<Signer>;
}

/** Where a key lives: sealed under the master key, or on a PKCS#11 token (pkcs11.ts). */
export type KeyStoreKind = "software" | "pkcs11";

export type KeyMaterialRecord =
  | { ref: string; algorithm: KeyAlgorithm; store: "software"; iv: Buffer; ciphertext: Buffer; tag: Buffer }
  | { ref: string; algorithm: KeyAlgorithm; store: "pkcs11"; spki: Buffer; token: string };

export interface KeyMaterialRepository {
  put(rec: KeyMaterialRecord): Promise<void>;
  get(ref: string): Promise<KeyMaterialRecord | null>;
}

const CURVE: Record<KeyAlgorithm, NewKeyType> = { "ECDSA-P256": "p256", "ECDSA-P384": "p384" };
const MASTER_KEY_BYTES = 32;

export class SoftwareKeyStore implements KeyStore {
  readonly #masterKey: Buffer;
  readonly #repo: KeyMaterialRepository;
  /** Decrypted signers by ref; a pending promise is cached too so concurrent callers decrypt once. */
  readonly #signers = new Map<string, Promise<Signer>>();

  constructor(masterKey: Buffer, repo: KeyMaterialRepository) {
    if (masterKey.length !== MASTER_KEY_BYTES) throw new PkiError("master_key_invalid", "the master key must be 32 bytes");
    this.#masterKey = Buffer.from(masterKey);
    this.#repo = repo;
  }

  async generate(ref: string, algorithm: KeyAlgorithm): Promise<Signer> {
    const curve = CURVE[algorithm];
    if (!curve) throw new PkiError("key_algorithm_unsupported", "unsupported key algorithm");
    if (await this.#repo.get(ref)) throw new PkiError("key_exists", `a key already exists under ${ref}`, 409);
    const privateKey = newPrivateKey(curve);
    const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" });
    const sealed = seal(this.#masterKey, pkcs8, aad(ref));
    pkcs8.fill(0);
    await this.#repo.put({ ref, algorithm, store: "software", ...sealed });
    const signer = keyObjectSigner(privateKey);
    this.#signers.set(ref, Promise.resolve(signer));
    return signer;
  }

  signer(ref: string): Promise<Signer> {
    let pending = this.#signers.get(ref);
    if (!pending) {
      pending = this.#load(ref);
      this.#signers.set(ref, pending);
      pending.catch(() => this.#signers.delete(ref));
    }
    return pending;
  }

  async #load(ref: string): Promise<Signer> {
    const rec = await this.#repo.get(ref);
    if (!rec) throw new PkiError("key_not_found", `no key under ${ref}`, 404);
    if (rec.store !== "software") throw new PkiError("key_store_mismatch", `the key ${ref} is not a software key`, 500);
    const pkcs8 = open(this.#masterKey, rec, aad(ref));
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
    } finally {
      pkcs8.fill(0);
    }
    const signer = keyObjectSigner(key);
    if (signer.algorithm !== rec.algorithm)
      throw new PkiError("key_algorithm_unsupported", `stored key under ${ref} is not ${rec.algorithm}`, 500);
    return signer;
  }
}

const UNAVAILABLE: Record<KeyStoreKind, [code: string, message: string]> = {
  software: ["master_key_required", "is sealed under the master key, and this process has none (set PSS_MASTER_KEY)"],
  pkcs11: ["pkcs11_not_configured", "is on a PKCS#11 token, and this process has none configured (PSS_PKCS11_MODULE)"],
};

/**
 * Every CA key by where it lives: new keys go to the store `generateIn` names, an existing key to the store its
 * record names (a deployment that moves to an HSM keeps signing with its older software keys until they rotate).
 */
export class KeyStoreRouter implements KeyStore {
  readonly #repo: KeyMaterialRepository;
  readonly #stores: Partial<Record<KeyStoreKind, KeyStore>>;
  readonly #generateIn: KeyStoreKind;
  /** signers by ref; a pending promise is cached too so concurrent callers load once */
  readonly #signers = new Map<string, Promise<Signer>>();

  constructor(repo: KeyMaterialRepository, stores: Partial<Record<KeyStoreKind, KeyStore>>, generateIn: KeyStoreKind) {
    this.#repo = repo;
    this.#stores = stores;
    this.#generateIn = generateIn;
  }

  /** Where new keys are generated. */
  get generatesIn(): KeyStoreKind {
    return this.#generateIn;
  }

  #store(kind: KeyStoreKind, ref: string): KeyStore {
    const store = this.#stores[kind];
    if (store) return store;
    const [code, message] = UNAVAILABLE[kind];
    throw new PkiError(code, `the key ${ref} ${message}`, 500);
  }

  async generate(ref: string, algorithm: KeyAlgorithm): Promise<Signer> {
    const signer = await this.#store(this.#generateIn, ref).generate(ref, algorithm);
    this.#signers.set(ref, Promise.resolve(signer));
    return signer;
  }

  signer(ref: string): Promise<Signer> {
    let pending = this.#signers.get(ref);
    if (!pending) {
      pending = this.#repo.get(ref).then((rec) => {
        if (!rec) throw new PkiError("key_not_found", `no key under ${ref}`, 404);
        return this.#store(rec.store, ref).signer(ref);
      });
      this.#signers.set(ref, pending);
      pending.catch(() => this.#signers.delete(ref));
    }
    return pending;
  }
}

const aad = (ref: string) => Buffer.from(ref, "utf8");

export type SealedRecord = Extract<KeyMaterialRecord, { store: "software" }>;

/**
 * The same key sealed under another master key (master key rotation); fails closed (master_key_mismatch) when
 * `from` does not open it. The plaintext lives only between the two calls, and is wiped.
 */
export function resealRecord(rec: SealedRecord, from: Buffer, to: Buffer): SealedRecord {
  if (to.length !== MASTER_KEY_BYTES) throw new PkiError("master_key_invalid", "the master key must be 32 bytes");
  const plain = open(from, rec, aad(rec.ref));
  try {
    return { ...rec, ...seal(to, plain, aad(rec.ref)) };
  } finally {
    plain.fill(0);
  }
}

function seal(key: Buffer, plaintext: Buffer, additional: Buffer): { iv: Buffer; ciphertext: Buffer; tag: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(additional);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext, tag: cipher.getAuthTag() };
}

/** Decrypts or fails closed: a wrong master key and a tampered/moved record look the same (master_key_mismatch). */
function open(key: Buffer, sealed: { iv: Buffer; ciphertext: Buffer; tag: Buffer }, additional: Buffer): Buffer {
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.iv, { authTagLength: 16 });
    decipher.setAAD(additional);
    decipher.setAuthTag(sealed.tag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
  } catch {
    throw new PkiError("master_key_mismatch", "stored key material does not decrypt under the master key", 500);
  }
}

/** PSS_MASTER_KEY: 64 hex characters or base64 of exactly 32 bytes (surrounding whitespace ignored). */
export function parseMasterKey(text: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, "hex");
  if (/^[A-Za-z0-9+/]{43}=$/.test(t) || /^[A-Za-z0-9_-]{43}$/.test(t)) {
    const key = Buffer.from(t, t.endsWith("=") ? "base64" : "base64url");
    if (key.length === MASTER_KEY_BYTES) return key;
  }
  throw new PkiError("master_key_invalid", "the master key must be 64 hex characters or base64 of 32 bytes");
}

const CANARY_PLAINTEXT = Buffer.from("pss master key canary v1");
const CANARY_AAD = Buffer.from("pss:canary");

/** An encrypted known value, stored once; every process checks its master key against it at start. */
export function makeCanary(masterKey: Buffer): string {
  const { iv, ciphertext, tag } = seal(masterKey, CANARY_PLAINTEXT, CANARY_AAD);
  return `v1.${iv.toString("base64")}.${ciphertext.toString("base64")}.${tag.toString("base64")}`;
}

/** Fails closed (master_key_mismatch) unless `canary` was made with this master key. */
export function checkCanary(masterKey: Buffer, canary: string): void {
  const [version, iv, ciphertext, tag, ...rest] = canary.split(".");
  const mismatch = () => new PkiError("master_key_mismatch", "the master key does not match this database's canary", 500);
  if (version !== "v1" || !tag || rest.length || masterKey.length !== MASTER_KEY_BYTES) throw mismatch();
  const sealed = { iv: Buffer.from(iv, "base64"), ciphertext: Buffer.from(ciphertext, "base64"), tag: Buffer.from(tag, "base64") };
  if (sealed.iv.length !== 12 || sealed.tag.length !== 16) throw mismatch();
  const plain = open(masterKey, sealed, CANARY_AAD);
  if (!plain.equals(CANARY_PLAINTEXT)) throw mismatch();
}
